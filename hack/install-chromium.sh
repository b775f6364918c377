#!/usr/bin/env bash
# Makes sure a headless-capable Chromium is installed, from Debian's chromium
# package when it is missing. The dashboard's browser tests drive it with
# chromedp (pkg/testing/browser); nothing is left running by this script.
set -o errexit -o nounset -o pipefail

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi

echo ">> installing Chromium from Debian's chromium package" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "Chromium is missing and I am not root: install Debian's chromium package" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Chromium starts no service, so unlike the registry it needs no policy-rc.d.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
