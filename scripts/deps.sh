#!/usr/bin/env bash
# Installs the Debian packages podnet's lab runs (nft, ip, nsenter, nginx,
# busybox, curl, dig/nslookup, nc) when any is missing. Needs root.
set -euo pipefail
need=()
for pair in nft:nftables ip:iproute2 nsenter:util-linux nginx:nginx-light busybox:busybox \
            curl:curl dig:dnsutils nc:netcat-openbsd make:make; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "podnet needs these Debian packages: ${need[*]} (run as root to install them)" >&2
  exit 1
fi
# Keep package scripts from starting services (nginx) in the host's network.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
exit 0
