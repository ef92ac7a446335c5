// Package walkthrough holds one test: a newcomer's first ten minutes. It
// runs README.md's commands as printed, in the order printed, on a fresh
// copy of the repository: make run, then every command up to the
// Deployment section, checking each answer the README announces, then
// Ctrl-C. Everything runs under strace, and the test lists what was written
// outside the copy and Go's own caches: nothing may be.
package walkthrough
