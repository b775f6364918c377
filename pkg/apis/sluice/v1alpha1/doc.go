// Package v1alpha1 is version v1alpha1 of the sluice.dev API group: the types
// clients send and receive, their defaults, and their conversions to the
// internal types in package sluice.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/sluice-dev/sluice/pkg/apis/sluice
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=com.github.sluice-dev.sluice.pkg.apis.sluice.v1alpha1
// +groupName=sluice.dev
package v1alpha1
