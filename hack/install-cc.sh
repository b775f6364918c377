#!/usr/bin/env bash
# Makes sure a C compiler (cc) is installed, from Debian's gcc package when it
# is missing. The tests that fill the database's disk build a small library
# with it and load it into their PostgreSQL (pkg/testing/postgres/diskfull.go);
# Sluice itself is built without cgo.
set -o errexit -o nounset -o pipefail

if command -v cc >/dev/null 2>&1; then
	exit 0
fi

echo ">> installing a C compiler from Debian's gcc package" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "cc is missing and I am not root: install Debian's gcc package" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
command -v cc >/dev/null
