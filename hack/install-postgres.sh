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
# init system here and we do not want one running, so tell them not to.
printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
"${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
"${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
