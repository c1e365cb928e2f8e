#!/bin/sh
# Builds the guest image of the VM test lane (scripts/vm-test.sh) into DIR:
#   DIR/rootfs.img (raw ext4), DIR/vmlinuz, DIR/initrd.img
# A Debian 12 root made by debootstrap from this machine's apt sources, with
# systemd as PID 1, the runtime's Debian dependencies and the lane's boot hook.
# vm-test.sh keys its cache on this file's content: editing it rebuilds the image.
# Usage: build-image.sh ARCH DIR
set -eu
arch=$1 out=$2

case "$arch" in
  x86_64) deb_arch=amd64 kernel=linux-image-amd64 ;;
  aarch64) deb_arch=arm64 kernel=linux-image-arm64 ;;
  *) echo "vm-test: unsupported ARCH $arch (x86_64, aarch64)" >&2; exit 2 ;;
esac
# A foreign root's second stage runs its programs under qemu-user: the host needs
# a binfmt_misc entry with the F flag (qemu-user-static, binfmt-support).
if [ "$deb_arch" != "$(dpkg --print-architecture)" ] && [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$arch" ]; then
  echo "vm-test: building an $arch image here needs qemu-user-static's binfmt_misc entry qemu-$arch" >&2
  exit 2
fi

# systemd/udev/dbus: PID 1 and what cradle.service needs; kmod: 9p modules on
# demand. The rest are cradle's runtime dependencies and what the tests run
# (scripts/setup.sh): docker-registry and busybox-static for the fixture
# registry and images, skopeo/umoci for the independent OCI clients. apparmor
# and criu: the guest kernel has both AppArmor and what CRIU needs, so the
# AppArmor and checkpoint/restore tests run here.
PACKAGES="systemd systemd-sysv udev dbus kmod procps $kernel
conmon runc containernetworking-plugins iptables iproute2 libseccomp2
docker-registry busybox-static skopeo umoci ca-certificates apparmor criu"

# The Debian archive the host's apt uses (the security suite is a separate repo).
mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Codename: bookworm' 2>/dev/null | grep -v security | sort -u | head -n1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian/

root=$out/root
rm -rf "$root"
mkdir -p "$root"
# The second stage mounts /proc and /sys in the root; a failed one leaves them.
unmount_root() {
  for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
}
trap unmount_root EXIT INT TERM
echo "vm-test: debootstrap bookworm/$deb_arch from $mirror" >&2
# shellcheck disable=SC2086
debootstrap --foreign --arch="$deb_arch" --variant=minbase \
  --include="$(echo $PACKAGES | tr ' ' ',')" \
  bookworm "$root" "$mirror" > "$out/debootstrap.log" 2>&1 \
  || { tail -n 30 "$out/debootstrap.log" >&2; exit 1; }
# Between the stages, before the kernel's package builds the initrd: only the
# modules that mount the root (virtio disk, ext4). The default (MODULES=most)
# packs every storage and filesystem driver, which under qemu-user (a foreign
# root) takes the better part of an hour; the rest loads from the root.
# A hook adds them (the modules file is a conffile of initramfs-tools, the
# hooks directory is not).
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
echo MODULES=list > "$root/etc/initramfs-tools/conf.d/cradle-vm"
cat > "$root/etc/initramfs-tools/hooks/cradle-vm" <<'HOOK'
#!/bin/sh
[ "${1:-}" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
for m in virtio_pci virtio_mmio virtio_blk ext4 crc32c_generic; do force_load "$m"; done
HOOK
chmod 755 "$root/etc/initramfs-tools/hooks/cradle-vm"
echo "vm-test: debootstrap second stage" >&2
chroot "$root" /debootstrap/debootstrap --second-stage >> "$out/debootstrap.log" 2>&1 \
  || { tail -n 30 "$out/debootstrap.log" >&2; exit 1; }
unmount_root

echo cradle-vm > "$root/etc/hostname"
printf '127.0.0.1 localhost cradle-vm\n::1 localhost\n' > "$root/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$root/etc/fstab"
# The registry package's own service (:5000) is not wanted: tests start theirs.
ln -sf /dev/null "$root/etc/systemd/system/docker-registry.service"
# No login prompts competing with the lane's output on the serial console.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyAMA0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/systemd-timesyncd.service"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"

# The boot hook: mounts the run directory the host shares (tag cradle-run) and
# runs the guest script the host put there; that script powers the guest off.
cat > "$root/etc/systemd/system/cradle-vm-run.service" <<'UNIT'
[Unit]
Description=cradle VM test lane: run what the host shared
After=local-fs.target systemd-udev-settle.service dbus.service
Wants=dbus.service

[Service]
Type=oneshot
ExecStartPre=/bin/mkdir -p /mnt/cradle-run
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 cradle-run /mnt/cradle-run
ExecStart=/bin/sh /mnt/cradle-run/guest.sh
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
UNIT
ln -sf ../cradle-vm-run.service "$root/etc/systemd/system/multi-user.target.wants/cradle-vm-run.service"

cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb

size_mb=$(( $(du -sm "$root" | cut -f1) + 1024 ))
rm -f "$out/rootfs.img"
mkfs.ext4 -q -L cradle-vm -d "$root" "$out/rootfs.img" "${size_mb}M"
rm -rf "$root"
