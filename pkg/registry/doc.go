// Package registry holds one package per resource of the sluice.dev group.
// Each has a strategy.go (how objects are prepared, validated and selected on
// create, update and status update) and a storage.go that builds the REST
// storage from a generic registry Store. This package holds what their
// strategies share (Strategy); the status package, the status subresource's
// storage and update strategy.
package registry
