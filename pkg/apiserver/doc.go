// Package apiserver is sluice-apiserver: the config (options → config →
// server, as sample-apiserver does) that installs the sluice.dev API group,
// with pipelines and pipelinejobs and their status subresources, on
// PostgreSQL storage; and the request authentication around it: requests
// wait for the front-proxy CA (frontproxy.go), and the front proxy's client
// certificate is verified once per TLS connection (frontproxy_auth.go).
package apiserver
