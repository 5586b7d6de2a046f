// Package userland finds the Go programs that travel with a module folder
// and builds them for the guest.
//
// A kernel module rarely comes alone: it has a control tool, a test driver
// or a benchmark, written in Go next to the C sources (cmd/tool/main.go).
// Find lists every main package inside a folder, the way the go command
// would see it when building for linux/amd64 without cgo. Build compiles one
// of them as a static binary for the guest and keeps it in a cache keyed by
// a digest of everything the build may read, so an unchanged program costs
// no go invocation at all. BuildAll does both for a whole folder.
//
// A program inside a Go module (a go.mod above it) is built in that module
// with "go build ./rel/path"; a program outside any module is built from the
// list of its files, so it may import the standard library only.
package userland
