#!/usr/bin/env bash
# Fails when a generated file differs from what hack/update-codegen.sh would
# write now. Runs the generators in a scratch copy of the tree.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Copy the tracked and untracked-but-not-ignored files, not bin/ or .local/.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$root" && xargs -0 cp --parents -t "$scratch")
# Reuse the generator binaries already built in this checkout.
[[ -d "$root/bin/codegen" ]] && mkdir -p "$scratch/bin" && cp -r "$root/bin/codegen" "$scratch/bin/"

"$scratch/hack/update-codegen.sh" >/dev/null

status=0
for dir in pkg/apis pkg/generated hack/api-rule-violations.list; do
	if ! diff -Naupr "$root/$dir" "$scratch/$dir"; then
		status=1
	fi
done
if [[ $status -ne 0 ]]; then
	echo "Generated code is stale: run hack/update-codegen.sh" >&2
	exit 1
fi
echo "Generated code is up to date."
