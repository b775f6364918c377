#!/usr/bin/env bash
# Regenerates every generated file: deepcopy, conversion and defaulter
# functions and the protobuf encoding beside the API types; OpenAPI definitions, the clientset (with
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

# The protobuf encoding of the v1alpha1 types, which the storage writes
# (docs/storage.md): go-to-protobuf adds protobuf tags to the types, writes
# generated.proto and has protoc (`make protoc`) compile it with
# protoc-gen-gogo into generated.pb.go; both are then named as every
# generated file is, zz_generated.*. It finds packages, and writes, under
# one directory in GOPATH's layout, and the .proto files our types import
# under another: both are made of links into this tree and the module cache.
command -v protoc >/dev/null || { echo "protoc is missing: run make protoc" >&2; exit 1; }
go install k8s.io/code-generator/cmd/go-to-protobuf k8s.io/code-generator/cmd/go-to-protobuf/protoc-gen-gogo
# go-to-protobuf runs goimports on what it writes, from PATH: the x/tools
# release the module already pins, installed beside the generators (a new
# machine has none, and one in the user's PATH may be of another release).
go install "golang.org/x/tools/cmd/goimports@$(go list -m -f '{{.Version}}' golang.org/x/tools)"
proto_tree=$(mktemp -d)
trap 'rm -rf "$proto_tree"' EXIT
mkdir -p "$proto_tree/out/github.com/sluice-dev" "$proto_tree/import/k8s.io" "$proto_tree/import/github.com/gogo"
ln -s "$root" "$proto_tree/out/$module"
go mod download k8s.io/api k8s.io/apimachinery github.com/gogo/protobuf
for m in k8s.io/api k8s.io/apimachinery; do
	ln -s "$(go list -m -f '{{.Dir}}' "$m")" "$proto_tree/import/$m"
done
gogo=$(go list -m -f '{{.Dir}}' github.com/gogo/protobuf)
ln -s "$gogo" "$proto_tree/import/github.com/gogo/protobuf"
protobuf_pkg=pkg/apis/sluice/v1alpha1
PATH="$GOBIN:$PATH" "$GOBIN/go-to-protobuf" \
	--go-header-file "$boilerplate" \
	--output-dir "$proto_tree/out" \
	--packages "$module/$protobuf_pkg" \
	--apimachinery-packages -k8s.io/apimachinery/pkg/util/intstr,-k8s.io/apimachinery/pkg/api/resource,-k8s.io/apimachinery/pkg/runtime/schema,-k8s.io/apimachinery/pkg/runtime,-k8s.io/apimachinery/pkg/apis/meta/v1,-k8s.io/api/core/v1 \
	--proto-import "$proto_tree/import" \
	--proto-import "$gogo/protobuf" \
	>/dev/null
sed 's|^// source: \(.*\)/generated.proto$|// source: \1/zz_generated.proto|' "$protobuf_pkg/generated.pb.go" >"$protobuf_pkg/zz_generated.pb.go"
mv "$protobuf_pkg/generated.proto" "$protobuf_pkg/zz_generated.proto"
rm "$protobuf_pkg/generated.pb.go"

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
