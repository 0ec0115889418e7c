#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages, once. Idempotent:
# it only calls apt-get when a command is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v sidekiq >/dev/null || need+=(ruby-sidekiq)

if ((${#need[@]})); then
	echo "installing Debian packages: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
