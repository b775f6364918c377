#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl, postgres, pgbench)
# are installed, from Debian's packages when they are missing. Tests and the
# local stack start their own throw-away servers with them; nothing is left
# running by this script.
set -o errexit -o nounset -o pipefail

if command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	exit 0
fi

echo ">> installing PostgreSQL from Debian's packages" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "PostgreSQL is missing and I am not root: install Debian's postgresql package" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# The package's maintainer scripts try to start a system cluster; there is no
# init system here and we do not want one running, so tell them not to with
# a policy-rc.d. A machine may have one of its own (Debian's container images
# do): it is put back as it was.
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
"${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
