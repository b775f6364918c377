// Package sluice holds the internal (hub) types of the sluice.dev API group:
// Pipeline and PipelineJob. The apiserver's registry works on these; clients
// use a versioned package such as v1alpha1.
//
// +k8s:deepcopy-gen=package
// +groupName=sluice.dev
package sluice
