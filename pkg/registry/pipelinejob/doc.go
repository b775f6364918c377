// Package pipelinejob is the registry of pipelinejobs.sluice.dev and its
// status subresource. The strategy records who started a job and labels it
// with its pipeline; both are the server's to set, never the client's.
package pipelinejob
