#!/usr/bin/env bash
# Storage benchmarks, PostgreSQL store side by side with the upstream etcd3
# store on the real etcd from bin/, in one run, compared with benchstat.
# Results go to .local/bench-storage/ (raw) and are printed as a table;
# docs/benchmarks.md quotes a run of this script.
#
#   hack/bench-storage.sh            # the set quoted in docs/benchmarks.md
#   COUNT=10 hack/bench-storage.sh   # more samples
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
hack/install-postgres.sh
hack/tools/build.sh etcd

out=.local/bench-storage
mkdir -p "$out"
raw="$out/raw.txt"
: >"$raw"
count=${COUNT:-5}
pkg=./pkg/storage/postgres

run() { go test "$pkg" -run '^$' -timeout 120m "$@" | tee -a "$raw"; }

# Writes, reads, fan-out and the physical limit (pgbench), several samples.
run -bench 'BenchmarkCreate$|BenchmarkGet$|BenchmarkGuaranteedUpdate$|BenchmarkWatchFanOut$|BenchmarkPGBenchInsert$' \
	-benchtime 3s -count "$count"
# A selective label list over 100k objects (each sample loads 100k objects).
run -bench 'BenchmarkListLabelSelector$' -benchtime 20x -count "${LIST_COUNT:-3}" -bench-objects "${OBJECTS:-100000}"
# The upstream benchmarks of k8s.io/apiserver/pkg/storage/testing.
run -bench 'BenchmarkUpstream' -benchtime 20x -count 1

echo
echo "## benchstat -col /store ($(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB)"
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /store "$raw" | tee "$out/benchstat.txt"
