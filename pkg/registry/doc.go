// Package registry holds one package per resource of the sluice.dev group.
// Each has a strategy.go (how objects are prepared, validated and selected on
// create, update and status update) and a storage.go that builds the REST
// storage. This package holds what they share: the main-resource strategy
// methods (Strategy) and the construction of the generic registry Store
// (NewStore, Attrs); the status package holds the status subresource's
// storage and update strategy.
package registry
