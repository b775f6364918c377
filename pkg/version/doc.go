// Package version is the build version of Sluice's binaries, read from the
// build information the Go toolchain stamps into every binary: the module
// version when it was built from a tagged module (go install ...@v0.3.0),
// else the VCS revision of a local build. sluice-apiserver publishes it in
// its OpenAPI documents and kubectl sluice version prints it, so that both
// read it the same way.
package version
