// Package registry starts throw-away OCI registries for tests and pushes small
// images to them, the way package postgres starts PostgreSQL.
//
// A registry is the CNCF distribution registry from Debian's docker-registry
// package (installed by hack/install-registry.sh, which `make test` runs),
// serving plain HTTP on a free 127.0.0.1 port with its storage, config and log
// in a directory of its own. It can notify endpoints of pushes with the
// distribution registry's notification envelope, as a registry configured to
// notify Sluice's receiver does. Images are built and pushed with
// go-containerregistry, the library the image trigger polls with.
//
// Every registry is killed if the process that started it dies, so a killed
// test never leaves one behind.
package registry
