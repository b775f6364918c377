#!/usr/bin/env bash
# Fails when the Kubernetes libraries in go.mod drift from the control plane
# pinned in hack/tools/go.mod: k8s.io/kubernetes vX.Y.Z goes with the staging
# modules (api, apimachinery, apiserver, client-go, ...) at v0.Y.Z. A stray
# `go get` or `go mod tidy` can raise them silently; this catches it.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kube=$(cd "$root/hack/tools" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
want="v0.${kube#v1.}"

status=0
for m in k8s.io/api k8s.io/apimachinery k8s.io/apiserver k8s.io/client-go k8s.io/code-generator k8s.io/component-base; do
	got=$(cd "$root" && go list -m -f '{{.Version}}' "$m" 2>/dev/null || true)
	if [[ -n "$got" && "$got" != "$want" ]]; then
		echo "$m is $got in go.mod, want $want to match k8s.io/kubernetes $kube in hack/tools/go.mod" >&2
		status=1
	fi
done
[[ $status -eq 0 ]] && echo "Kubernetes libraries match the control plane ($want / $kube)."
exit $status
