#!/usr/bin/env bash
# Makes sure the CNCF distribution registry is installed, from Debian's
# docker-registry package when it is missing. Tests start their own throw-away
# registries with it (pkg/testing/registry); nothing is left running by this
# script.
set -o errexit -o nounset -o pipefail

if command -v docker-registry >/dev/null 2>&1; then
	exit 0
fi

echo ">> installing the distribution registry from Debian's docker-registry package" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "the registry is missing and I am not root: install Debian's docker-registry package" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# The package's maintainer scripts start a system registry on port 5000; we do
# not want one running, so tell them not to with a policy-rc.d. A machine may
# have one of its own (Debian's container images do): it is put back as it was.
policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e $policy ]]; then
	saved=$(mktemp)
	cp -p "$policy" "$saved"
fi
restore_policy() {
	if [[ -n $saved ]]; then
		"${sudo[@]}" cp -p "$saved" "$policy"
		rm -f "$saved"
	else
		"${sudo[@]}" rm -f "$policy"
	fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
"${sudo[@]}" chmod +x "$policy"
"${sudo[@]}" apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
command -v docker-registry >/dev/null
