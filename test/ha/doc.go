// Package ha proves that Sluice's storage follows a PostgreSQL failover on
// Patroni with nothing lost. Its tests run one Patroni cluster
// (pkg/testing/patroni: two members, synchronous mode) for the package, and
// two storage replicas (two postgres.Backends, as two sluice-apiserver
// processes have) built as sluice-apiserver builds them, on the multi-host
// URL with target_session_attrs=read-write and nothing else.
//
// Writers create, update and delete PipelineJobs and record every
// acknowledged write; watchers record every event and re-list after an
// error; a sampler records each replica's published revision. Mid-load the
// primary is killed (its machine, or its postmaster alone, when Patroni
// brings it back as a replica), or switched over with patronictl. The
// tests then check that every acknowledged write is there with its value
// and revision, that every watch was gap-free and in order up to its error
// and after its re-list, that no revision was handed out twice, that no
// published revision went backwards, and that every request that failed in
// the gap would have been a 503 or a 504 to a client, never a 500. The
// linearizability checker (pkg/storage/postgres/linearizability) runs across
// a failover too.
package ha
