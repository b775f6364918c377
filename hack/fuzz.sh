#!/usr/bin/env bash
# Runs every native Go fuzz target (func FuzzX(f *testing.F)) under pkg/ for
# FUZZTIME each (default 30s): `make fuzz FUZZTIME=10m`. make test runs only
# their seed corpora. A failing input is written to the package's
# testdata/fuzz/FuzzX/ by go test: commit it, and it stays a regression test.
set -euo pipefail
fuzztime="${1:-30s}"
cd "$(dirname "$0")/.."
status=0
while read -r file name; do
  pkg="./$(dirname "$file")"
  echo ">> $pkg $name ($fuzztime)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" || status=1
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\)' --include='*_test.go' pkg | sed -E 's/:func (Fuzz[A-Za-z0-9_]*).*/ \1/' | sort)
exit "$status"
