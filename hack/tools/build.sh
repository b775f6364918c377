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

# copy_module_dir MODULE VERSION SUBDIR DEST: copies SUBDIR of MODULE (as
# hack/tools/go.mod pins it) to DEST in the cache, unless DEST is already
# there. Run time reads only DEST, never the module cache.
copy_module_dir() {
	local module=$1 version=$2 subdir=$3 dest=$4
	[[ -d "$dest" ]] && return
	local src tmp
	src=$(cd "$tools_dir" && go mod download "$module" && go list -m -f '{{.Dir}}' "$module")
	[[ -d "$src/$subdir" ]] || { echo "$module $version has no $subdir at '$src'" >&2; exit 1; }
	mkdir -p "$(dirname "$dest")"
	tmp=$(mktemp -d "$cache_root/.copy-$(basename "$dest").XXXXXX")
	cp -r "$src/$subdir/." "$tmp/"
	chmod -R u+w "$tmp"
	# Another build may have copied it meanwhile: keep the first.
	mv -T "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp"
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
		# kwok needs files its module ships: the Stage definitions, and the
		# CRDs of its configuration kinds (the local stack configures
		# container logs with ClusterLogs objects). They are copied into the
		# cache beside the binary: with a cached binary the module itself
		# may never have been downloaded on this machine.
		dir="$cache_root/kwok-$v-$go_version"
		copy_module_dir sigs.k8s.io/kwok "$v" kustomize/stage "$dir/stage"
		copy_module_dir sigs.k8s.io/kwok "$v" kustomize/crd/bases "$dir/crd"
		ln -sfn "$dir/stage" "$bin_dir/kwok-stages"
		ln -sfn "$dir/crd" "$bin_dir/kwok-crds"
		;;
	*)
		echo "unknown tool: $tool (known: ${all[*]})" >&2
		exit 2
		;;
	esac
done
