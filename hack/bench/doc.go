// Command bench is `make bench`: it measures Sluice against the same types
// served as CustomResourceDefinitions by kube-apiserver and etcd, side by
// side in one run, both reached through kube-apiserver as a user reaches
// them.
//
// For each object count it starts a fresh API-only local stack (PostgreSQL,
// etcd with an 8 GiB quota, kube-apiserver, sluice-apiserver; all durable),
// installs the CRDs of package crd, and runs the same workload against
// sluice.dev and then crd.sluice.dev: creates at 1, 16 and 64 clients and of
// 5 KiB objects, status updates, gets, a paginated full list, label- and
// field-selected lists, and watch delivery latency to 100 watchers; then it
// reads the memory of every server and the size of both databases. A system
// that fails (errors, a server exiting, memory beyond 3/4 of the machine) is
// recorded with where and how, and is not attempted at larger counts.
//
// Before that it runs the controller benchmark (controller.go; alone with
// -controller-only): a full local stack with kube-controller-manager,
// kube-scheduler, kwok nodes and one sluice-controller leader with its
// default flags, 1,000 jobs of a 2-step pipeline submitted at once, and
// jobs/min from the first create to the last finish, the controller's API
// requests per job by verb and resource (its
// sluice_controller_api_requests_total before and after), Pods created per
// job and every process's CPU per job, into controller.md and
// controller.json.
//
// Output: bench-results.json, results.md (a table of Sluice ÷ CRD ratios
// with the absolute numbers) and chart.png, in .local/bench; with
// -update-docs also in docs/bench/ and docs/benchmarks.md.
//
// BENCH_SCALE=huge (huge.go) is Sluice alone at 10 million jobs, a count
// the CRDs do not reach: the jobs are bulk-loaded through the storage
// engine's Store, as sluice-apiserver builds it, into an API-only stack,
// and then measured through kube-apiserver.
package main
