// Package testoutput is where a test writes the files a person looks at
// afterwards: a linearizability visualisation of a failed check, the
// dashboard's screenshots.
package testoutput
