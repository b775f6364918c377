#!/usr/bin/env bash
# Makes sure protoc is installed, from Debian's protobuf-compiler package when
# it is missing. hack/update-codegen.sh compiles the protobuf IDL of the
# v1alpha1 types with it (the storage encoding, docs/storage.md); building
# and testing Sluice do not need it.
set -o errexit -o nounset -o pipefail

if command -v protoc >/dev/null 2>&1; then
	exit 0
fi

echo ">> installing protoc from Debian's protobuf-compiler package" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "protoc is missing and I am not root: install Debian's protobuf-compiler package" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
command -v protoc >/dev/null
