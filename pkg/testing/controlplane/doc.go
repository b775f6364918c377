// Package controlplane runs a real Kubernetes control plane on 127.0.0.1 from
// the pinned binaries in bin/ (built by `make tools`): etcd and
// kube-apiserver with the aggregation layer configured. Tests, the local
// stack and benchmarks all start it through this package.
//
// Every child process logs to a file in the control plane's directory and is
// killed if the process that started it dies.
package controlplane
