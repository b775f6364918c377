// Package linearizability records concurrent histories of create, get,
// update and delete with preconditions, and consistent and exact lists,
// against any k8s.io/apiserver storage.Interface, and checks them with
// porcupine against a sequential model of one key (exists, value,
// resourceVersion), together with the revision rules the apiserver relies
// on: every acknowledged write has a revision of its own, greater than any
// revision returned before it was called.
//
// Run drives the workload and takes an optional fault (a PostgreSQL restart
// in pkg/storage/postgres's tests, a Patroni failover in test/ha's); RequireLinearizable
// checks a history and, when it is not linearizable, writes porcupine's
// visualisation to the test's output directory.
//
// It is a testing package: nothing in a binary imports it.
package linearizability
