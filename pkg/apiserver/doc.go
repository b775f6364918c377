// Package apiserver is sluice-apiserver: the config (options → config →
// server, as sample-apiserver does) that installs the sluice.dev API group,
// with pipelines and pipelinejobs and their status subresources, on
// PostgreSQL storage.
package apiserver
