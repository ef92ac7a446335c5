// Package huaweisdk holds the tests that call the API with Huawei Cloud's
// official Go SDK (github.com/huaweicloud/huaweicloud-sdk-go-v3), as
// Huawei's users do. It is a module of its own so that the SDK (about
// 250 MB unpacked) is never downloaded by a build of the service; make test
// runs it.
package huaweisdk
