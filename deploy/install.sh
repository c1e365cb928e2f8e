#!/bin/sh
# Installs cradle from this checkout into /opt/cradle with its systemd unit and
# crictl config. Run as root after scripts/setup.sh (which builds dist/).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
prefix=${PREFIX:-/opt/cradle}
mkdir -p "$prefix"
cp -a package.json package-lock.json bin dist proto node_modules README.md "$prefix"/
install -m 0644 deploy/systemd/cradle.service /etc/systemd/system/cradle.service
[ -f /etc/crictl.yaml ] || install -m 0644 deploy/crictl.yaml /etc/crictl.yaml
mkdir -p /etc/cradle/cradle.conf.d
[ -f /etc/cradle/cradle.toml ] || install -m 0644 deploy/cradle.toml /etc/cradle/cradle.toml
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "installed; start with: systemctl enable --now cradle"
else
  echo "installed to $prefix; no systemd here: run $prefix/bin/cradled directly"
fi
