#!/usr/bin/env bash
# Installs the Debian packages the local single-node cluster (test/cluster)
# needs, once. Idempotent: apt-get runs only when something is missing.
# containerd itself is built from its Go module (hack/containerd-tools),
# because Debian's 1.6 lacks the CRI features kubelet 1.37 expects.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v runc >/dev/null || need+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)

# The Sidekiq image is unpacked from Debian packages (apt-get download,
# dpkg-deb -x), which needs the package lists; slim images leave them out.
if ((${#need[@]})) || ! apt-cache show ruby-sidekiq >/dev/null 2>&1; then
	apt-get update -qq
fi
if ((${#need[@]})); then
	echo "installing Debian packages: ${need[*]}"
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
