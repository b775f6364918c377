// Package crd turns Sluice's OpenAPI definitions into CustomResourceDefinitions
// of the same kinds in another group, the baseline the benchmark compares
// sluice-apiserver with: the same objects, stored by kube-apiserver in etcd.
//
// The schemas come from pkg/generated/openapi, so they follow the Go types
// without a second source of truth; a test prunes realistic objects with
// them to prove that the CRDs keep every field Sluice stores.
package crd
