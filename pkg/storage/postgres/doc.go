// Package postgres is Sluice's storage engine: k8s.io/apiserver's
// storage.Interface on PostgreSQL, so that the generic registry stores,
// lists and watches sluice.dev objects there instead of in etcd.
//
// It owns the schema and its migrations (migrations/, migrate.go); the
// revision scheme, in which writes draw revisions from a sequence and one
// sequencer per process makes them visible in order, without holes, as
// ordered batches (sequencer.go, on the events table through
// sequencer_source.go); the broadcaster that fans those batches out to
// watches and observers (broadcaster.go); writes, reads and lists at a
// revision with selectors pushed into SQL (store.go, list.go); watches with
// history catch-up (watch.go); object counts (stats.go); compaction and TTL
// expiry (compact.go); and the REST options that plug a Store per resource
// into the apiserver (restoptions.go). Every SQL statement is in queries.go;
// statements.go exports the ones the benchmark's pgbench replays. docs/storage.md explains the design and
// why; the upstream storage conformance suite runs against it in
// conformance_test.go.
package postgres
