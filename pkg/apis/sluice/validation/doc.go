// Package validation checks sluice.dev objects (internal types) and reports
// every problem as a field.Error with the exact path of the offending field,
// so that the apiserver can answer 422 with a Status a user can act on.
package validation
