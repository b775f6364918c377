// Package install registers the sluice.dev API group, internal and v1alpha1,
// into a scheme.
package install
