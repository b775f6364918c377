// Package fuzzer fills sluice.dev objects with random values for the
// round-trip tests. Fields that defaulting would change are given non-empty
// values, so a round trip through v1alpha1 must return the object unchanged.
package fuzzer
