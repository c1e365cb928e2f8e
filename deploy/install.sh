#!/bin/sh
# Installs cradle on this node from this checkout, as the Debian package: installs
# what the runtime needs and what building needs (no test tools: those are
# scripts/setup.sh's), builds, packs cradle_<version>_<arch>.deb (scripts/package.js)
# and installs it with apt, which pulls in its Depends. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "cradle: run this as root" >&2
  exit 1
fi

# The package's Depends/Recommends, plus what builds it: npm (only to run `npm ci`;
# cradle itself runs on the Node.js it ships), binutils (strip) and dpkg-dev.
PACKAGES="conmon containernetworking-plugins iptables libseccomp2 runc binutils dpkg-dev"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
  echo "cradle: installing Debian packages:$missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.cradle-lock-sum ] || [ "$(cat node_modules/.cradle-lock-sum)" != "$lock_sum" ]; then
  env -u NODE_EXTRA_CA_CERTS npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.cradle-lock-sum
fi
env -u NODE_EXTRA_CA_CERTS npm run --silent package
version=$(node -p 'require("./package.json").version')
deb="$PWD/dist/cradle_${version}_$(dpkg --print-architecture).deb"
apt-get install -y -qq "$deb"
[ -f /etc/crictl.yaml ] || install -m 0644 deploy/crictl.yaml /etc/crictl.yaml
echo "cradle $version installed; 'cradled check' tells what the node still lacks"
