// Package registry holds one package per resource of the sluice.dev group.
// Each has a strategy.go (how objects are prepared, validated and selected on
// create, update and status update), a storage.go that builds the REST
// storage, and one small REST type per action subresource (run.go,
// cancel.go, ...), as OpenShift keeps buildconfigs/instantiate beside its
// resource. This package holds what they share: the main-resource strategy
// methods (Strategy), the construction of the generic registry Store
// (NewStore, Attrs), and what every action does alike (JobAction,
// AdmitRequest); the status package holds the status subresource's storage
// and update strategy.
package registry
