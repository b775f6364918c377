// Package testutil holds the small helpers that Sluice's test harnesses and
// tests share, so that each exists once: a free port on loopback, one SQL
// statement on a connection of its own, an HTTP probe, and the v1alpha1
// objects tests build.
package testutil
