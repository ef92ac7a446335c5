// Package bench holds only benchmarks (bench_test.go): the API's warm
// request path, through the Lambda front door and the local HTTP server,
// beside a minimal baseline handler, for `make bench`.
package bench
