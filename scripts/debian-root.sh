#!/bin/sh
# A clean Debian 12 root for the package's install test (test/integration/package/
# install.test.ts): debootstrap --variant=minbase from the archive this machine's apt
# uses, with the package's Depends and bash-completion installed, nothing else.
# Built once and cached under $CRADLE_CHROOT_CACHE (default /var/cache/cradle-chroot),
# keyed on this file's content (editing it rebuilds the root); a second run waits
# for a build in progress. Prints the root's path. The cached root is only read:
# tests install into a throwaway overlay on top of it.
# Usage: scripts/debian-root.sh
set -eu
script=$(readlink -f "$0")

case "$(uname -m)" in
  x86_64) deb_arch=amd64 ;;
  aarch64) deb_arch=arm64 ;;
  *) echo "debian-root: unsupported machine $(uname -m)" >&2; exit 2 ;;
esac

# The package's Depends (scripts/package.js controlFile) and what an operator's
# shell has for completions. Runc (a Recommends) is left out: dpkg -i does not pull it.
PACKAGES="conmon containernetworking-plugins iptables libseccomp2 libstdc++6 libgcc-s1 bash-completion"

cache=${CRADLE_CHROOT_CACHE:-/var/cache/cradle-chroot}
key=$(sha256sum "$script" | cut -c1-16)
dir=$cache/$deb_arch-$key
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ ! -f "$dir/done" ]; then
  # The Debian archive the host's apt uses (the security suite is a separate repo).
  mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Codename: bookworm' 2>/dev/null | grep -v security | sort -u | head -n1)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian/
  echo "debian-root: debootstrap bookworm/$deb_arch from $mirror into $dir" >&2
  start=$(date +%s)
  # A killed build leaves a partial root (with its /proc possibly mounted).
  if [ -d "$dir.tmp" ]; then
    grep -o " $dir.tmp/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$dir.tmp"
  fi
  mkdir -p "$dir.tmp"
  # shellcheck disable=SC2086
  debootstrap --arch="$deb_arch" --variant=minbase --include="$(echo $PACKAGES | tr ' ' ',')" \
    bookworm "$dir.tmp/root" "$mirror" > "$dir.tmp/debootstrap.log" 2>&1 \
    || { tail -n 30 "$dir.tmp/debootstrap.log" >&2; exit 1; }
  rm -rf "$dir.tmp"/root/var/cache/apt/archives/*.deb
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  echo "$(( $(date +%s) - start ))" > "$dir/build-seconds"
  touch "$dir/done"
  echo "debian-root: built in $(cat "$dir/build-seconds") s" >&2
  # Roots of earlier versions of this script.
  for old in "$cache/$deb_arch"-*; do
    [ "$old" = "$dir" ] || rm -rf "$old"
  done
fi
flock -u 9
echo "$dir/root"
