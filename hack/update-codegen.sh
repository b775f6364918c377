#!/usr/bin/env bash
# Regenerates every generated file: deepcopy, conversion and defaulter
# functions beside the API types; OpenAPI definitions, the clientset (with
# watch and apply configurations), listers and informers under pkg/generated.
# Uses kube_codegen.sh from the k8s.io/code-generator version in go.mod.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
module=github.com/sluice-dev/sluice

# `go list -m` prints the module's directory only once it is downloaded, and
# nothing else in the build downloads code-generator: fetch it first.
go mod download k8s.io/code-generator
codegen_pkg=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
[[ -f "$codegen_pkg/kube_codegen.sh" ]] || { echo "k8s.io/code-generator has no kube_codegen.sh at '$codegen_pkg'" >&2; exit 1; }
# The generators are installed here, not in the user's GOPATH/bin.
export GOBIN="$root/bin/codegen"
mkdir -p "$GOBIN"
# shellcheck source=/dev/null
source "$codegen_pkg/kube_codegen.sh"
# Our types embed core/v1 types (EnvVar, Affinity, ...): openapi-gen reads
# them from the read-only module cache and must not write beside them.
KUBE_CODEGEN_READONLY_PKGS+=(k8s.io/api/core/v1)

boilerplate="$root/hack/boilerplate.go.txt"

kube::codegen::gen_helpers \
	--boilerplate "$boilerplate" \
	"$root/pkg/apis"

kube::codegen::gen_openapi \
	--output-dir "$root/pkg/generated/openapi" \
	--output-pkg "$module/pkg/generated/openapi" \
	--output-model-name-file zz_generated.model_name.go \
	--extra-pkgs k8s.io/api/core/v1 \
	--report-filename "$root/hack/api-rule-violations.list" \
	${UPDATE_API_KNOWN_VIOLATIONS:+--update-report} \
	--boilerplate "$boilerplate" \
	"$root/pkg/apis"

kube::codegen::gen_client \
	--with-watch \
	--with-applyconfig \
	--applyconfig-openapi-schema <(go run ./hack/models-schema) \
	--output-dir "$root/pkg/generated" \
	--output-pkg "$module/pkg/generated" \
	--boilerplate "$boilerplate" \
	"$root/pkg/apis"
