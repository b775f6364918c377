// Package update holds what every update and patch of Sluice's resources
// goes through before the generic registry sees the new object: the checks
// that turn a client's mistakes, which the generic registry and the patch
// handler would answer with a 500, into the client's 4xx.
package update
