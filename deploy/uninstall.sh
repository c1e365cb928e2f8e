#!/bin/sh
# Removes what deploy/install.sh installed. Pods and containers should be gone
# first (drain the node); state in /var/lib/cradle is kept unless PURGE=1.
set -eu
prefix=${PREFIX:-/opt/cradle}
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now cradle 2>/dev/null || true
  rm -f /etc/systemd/system/cradle.service
  systemctl daemon-reload
fi
rm -rf "$prefix"
if [ "${PURGE:-0}" = 1 ]; then
  rm -rf /var/lib/cradle /etc/cradle
  rm -f /etc/cni/net.d/10-cradle-default.conflist
fi
echo "cradle removed${PURGE:+ (state purged)}"
