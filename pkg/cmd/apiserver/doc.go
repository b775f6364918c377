// Package apiserver is the sluice-apiserver command: flags, logging and the
// run loop around pkg/apiserver.
package apiserver
