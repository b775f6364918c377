#!/usr/bin/env bash
# Makes sure Patroni (the PostgreSQL high-availability manager) is installed,
# from Debian's patroni package when it is missing, with python3-etcd for its
# etcd DCS. The HA tests (test/ha, through pkg/testing/patroni) start their
# own throw-away clusters with it; nothing is left running by this script.
# PostgreSQL itself comes from hack/install-postgres.sh.
set -o errexit -o nounset -o pipefail

if command -v patroni >/dev/null 2>&1 && command -v patronictl >/dev/null 2>&1 && python3 -c 'import etcd' 2>/dev/null; then
	exit 0
fi

echo ">> installing Patroni from Debian's patroni package" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "Patroni is missing and I am not root: install Debian's patroni and python3-etcd packages" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# The package ships a patroni service; there is no init system here and we do
# not want one running, so tell the maintainer scripts not to start anything
# with a policy-rc.d. A machine may have one of its own (Debian's container
# images do): it is put back as it was.
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
# python3-etcd is named, not left to the package's "etcd, consul, zookeeper
# or kubernetes" alternative: Patroni's etcd3 DCS is built on it.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends patroni python3-etcd >/dev/null
command -v patroni >/dev/null && command -v patronictl >/dev/null
