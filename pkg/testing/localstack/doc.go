// Package localstack runs Sluice's whole local stack on 127.0.0.1: a
// throw-away PostgreSQL, etcd and kube-apiserver with the aggregation layer,
// kube-controller-manager and kube-scheduler, kwok with fake nodes, and
// sluice-apiserver registered through an APIService. `make run` and the
// end-to-end tests both start it through this package, so what a developer
// tries is what the tests test.
//
// kwok also serves the kubelet API of its nodes, so pods/log and `kubectl
// logs` work on their Pods; Stack.SetContainerLogs and
// Stack.AppendContainerLog choose what each container printed
// (podlogs.go).
package localstack
