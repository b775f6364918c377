// Package postgres is Sluice's storage engine: k8s.io/apiserver's
// storage.Interface on PostgreSQL, so that the generic registry stores,
// lists and watches sluice.dev objects there instead of in etcd.
//
// It owns the schema and its migrations (migrations/, migrate.go); the
// revision scheme, in which writes draw revisions from a sequence and one
// publisher per process makes them visible in order, without holes
// (publisher.go); writes, reads and lists at a revision with selectors
// pushed into SQL (store.go, list.go); watches served from the publisher
// with history catch-up (watch.go); compaction and TTL expiry
// (compact.go); and the REST options that plug a Store per resource into
// the apiserver (restoptions.go). statements.go exports the SQL it runs,
// for the benchmark's pgbench. docs/storage.md explains the design and
// why; the upstream storage conformance suite runs against it in
// conformance_test.go.
package postgres
