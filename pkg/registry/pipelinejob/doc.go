// Package pipelinejob is the registry of pipelinejobs.sluice.dev, its
// status subresource, and the actions on a job: cancel, rerun and approval.
// The strategies record who started, cancelled and approved a job, and
// label it with its pipeline and environment; all of that is the server's
// to set, never the client's.
package pipelinejob
