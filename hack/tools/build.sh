#!/usr/bin/env bash
# Builds the pinned control-plane toolchain (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok) from the module versions named in
# hack/tools/go.mod, and links them into bin/.
#
# Binaries are cached per user under $SLUICE_TOOLS_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/sluice/tools), in a directory keyed by the tool's
# pinned version and the Go toolchain. A fresh clone on a machine that already
# built the same pins only re-links; a changed pin builds once, then is cached.
# Nothing is downloaded except through the Go module proxy.
#
# Usage: hack/tools/build.sh [tool...]   (default: every tool)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools_dir="$root/hack/tools"
bin_dir="$root/bin"
cache_root=${SLUICE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/tools}
mkdir -p "$bin_dir" "$cache_root"

# module_version prints the version hack/tools/go.mod resolves for a module.
module_version() {
	(cd "$tools_dir" && go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$1")
}

go_version=$(go env GOVERSION)

# build NAME PACKAGE VERSION [LDFLAGS]: builds PACKAGE into the cache unless a
# binary for the same NAME, VERSION and Go toolchain is already there.
build() {
	local name=$1 pkg=$2 version=$3 ldflags=${4:-}
	local dir="$cache_root/$name-$version-$go_version"
	if [[ ! -x "$dir/$name" ]]; then
		echo ">> building $name $version (cached in $dir)" >&2
		local tmp
		tmp=$(mktemp -d "$cache_root/.build-$name.XXXXXX")
		(cd "$tools_dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/$name" "$pkg")
		mkdir -p "$dir"
		mv "$tmp/$name" "$dir/$name"
		rmdir "$tmp"
	fi
	ln -sfn "$dir/$name" "$bin_dir/$name"
}

kube_ldflags() {
	local v=$1 major minor
	major=${v#v}; major=${major%%.*}
	minor=${v#v"$major".}; minor=${minor%%.*}
	local p=k8s.io/component-base/version
	echo "-X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

all=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=("${all[@]}")

for tool in "${wanted[@]}"; do
	case $tool in
	etcd)
		build etcd go.etcd.io/etcd/server/v3 "$(module_version go.etcd.io/etcd/server/v3)"
		;;
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl)
		v=$(module_version k8s.io/kubernetes)
		build "$tool" "k8s.io/kubernetes/cmd/$tool" "$v" "$(kube_ldflags "$v")"
		;;
	kwok)
		v=$(module_version sigs.k8s.io/kwok)
		build kwok sigs.k8s.io/kwok/cmd/kwok "$v"
		# kwok needs the Stage definitions its module ships. They are copied
		# into the cache beside the binary: with a cached binary the module
		# itself may never have been downloaded on this machine.
		stages="$cache_root/kwok-$v-$go_version/stage"
		if [[ ! -d "$stages" ]]; then
			src=$(cd "$tools_dir" && go mod download sigs.k8s.io/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
			[[ -d "$src/kustomize/stage" ]] || { echo "sigs.k8s.io/kwok $v has no kustomize/stage at '$src'" >&2; exit 1; }
			tmp=$(mktemp -d "$cache_root/.stages-kwok.XXXXXX")
			cp -r "$src/kustomize/stage/." "$tmp/"
			chmod -R u+w "$tmp"
			mv "$tmp" "$stages"
		fi
		ln -sfn "$stages" "$bin_dir/kwok-stages"
		;;
	*)
		echo "unknown tool: $tool (known: ${all[*]})" >&2
		exit 2
		;;
	esac
done
