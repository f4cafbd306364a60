#!/usr/bin/env bash
# Build the Raspberry Pi 4 (400, CM4) SD-card image: Debian 12 arm64 from Debian's own packages, booting into the relay.
#
#   scripts/build-image.sh            → artifacts/image/edgerelay-rpi-arm64.img (and, for scripts/test-image.sh,
#                                       the kernel and initrd beside it)
#
# How (image/README.md says what the image is; this says how it is made):
#   1. scripts/package-deb.sh arm64 makes the package.
#   2. mmdebstrap makes the arm64 bookworm root, with its updates and security updates, from the mirrors apt is
#      configured with (main and non-free-firmware, for raspi-firmware), running the arm64 maintainer scripts under qemu-user: qemu-aarch64 is registered with
#      binfmt_misc (as /usr/lib/binfmt.d/qemu-aarch64.conf says) when it is not yet. The package is installed,
#      image/rootfs/ is laid over the root (read-only fstab, provisioning, watchdog, journal in memory,
#      DHCP, the clock), and the units are enabled; raspi-firmware's kernel hook runs again so that the boot
#      partition's cmdline.txt follows image/rootfs/etc/default/raspi-* (the root by its label, read-only), and
#      /usr/lib/clock-epoch dates the build (systemd starts the clock no earlier than that). No SSH server.
#   3. The three partitions are made as files, without loop devices or mounts: the FAT boot partition
#      (raspi-firmware's firmware, kernel, initrd, device trees, config.txt and cmdline.txt) with mtools, the
#      root and the state partition with mkfs.ext4 -d; then they are laid into one MBR disk image with sfdisk.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "build-image.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: mmdebstrap runs arm64 maintainer scripts in a chroot"
need=()
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v mkfs.vfat >/dev/null 2>&1 || need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v sfdisk >/dev/null 2>&1 || need+=(fdisk)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
. "$ROOT/scripts/lib/apt.sh"
apt_install_missing "${need[@]}"

# --- arm64 programs run under qemu-user, also inside the chroot ---------------------------------------
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    log "registering qemu-aarch64 with binfmt_misc"
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi

# --- the package and the mirror ---------------------------------------------------------------------
DEB="$(scripts/package-deb.sh arm64 | tail -1)"
# Debian 12 whatever the build machine runs, from the mirrors apt is configured with: the release, its updates
# and its security updates.
SUITE=bookworm
SOURCES="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)"
MIRROR="$(sed -n 's|^URIs: *\(http[^ ]*/debian\)/\?$|\1|p; s|^deb \(\[[^]]*\] \)\?\(http[^ ]*/debian\)/\? .*|\2|p' <<<"$SOURCES" | head -1)"
SECURITY="$(sed -n 's|^URIs: *\(http[^ ]*/debian-security\)/\?$|\1|p; s|^deb \(\[[^]]*\] \)\?\(http[^ ]*/debian-security\)/\? .*|\2|p' <<<"$SOURCES" | head -1)"
[[ -n $MIRROR ]] || die "no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
[[ -n $SECURITY ]] || SECURITY="${MIRROR%/debian}/debian-security"

OUT="$ROOT/artifacts/image"
WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK"
TREE="$WORK/root"

# --- the root -----------------------------------------------------------------------------------------
log "mmdebstrap: $SUITE arm64 from $MIRROR and $SECURITY"
PACKAGES=systemd,systemd-sysv,systemd-resolved,systemd-timesyncd,udev,kmod,linux-image-arm64,raspi-firmware,initramfs-tools,libssl3,libgpiod2,adduser,ca-certificates,iproute2,dosfstools
mmdebstrap --quiet --arch=arm64 --variant=minbase --components=main,non-free-firmware \
    --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="copy-in $DEB /tmp" \
    --customize-hook="chroot \"\$1\" dpkg -i /tmp/$(basename "$DEB")" \
    --customize-hook="rm -f \"\$1\"/tmp/$(basename "$DEB")" \
    --customize-hook="sync-in image/rootfs /" \
    --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-resolved edgerelay-state.service edgerelay-provision.service edgerelay.service' \
    --customize-hook='ln -sf /run/systemd/resolve/stub-resolv.conf "$1"/etc/resolv.conf' \
    --customize-hook='chroot "$1" sh -c "rm -f /etc/machine-id /var/lib/dbus/machine-id; touch /etc/machine-id"' \
    --customize-hook='touch "$1"/usr/lib/clock-epoch' \
    --customize-hook='chroot "$1" sh -c "for k in /boot/vmlinuz-*; do DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware \"\${k#/boot/vmlinuz-}\" \"\$k\"; done"' \
    "$SUITE" "$TREE" \
    "deb $MIRROR $SUITE main non-free-firmware" \
    "deb $MIRROR $SUITE-updates main non-free-firmware" \
    "deb $SECURITY $SUITE-security main non-free-firmware"
# raspi-firmware's hook wrote cmdline.txt from image/rootfs/etc/default/raspi-*: the root by label, read-only, and
# no cma= (the hook leaves it out for a Pi 4 only when it runs on one; with it a Pi 4 does not boot).
CMDLINE="$(cat "$TREE/boot/firmware/cmdline.txt")"
grep -q 'root=LABEL=EDGEROOT .* ro\b' <<<"$CMDLINE" || die "cmdline.txt does not mount LABEL=EDGEROOT read-only: $CMDLINE"
grep -q 'cma=' <<<"$CMDLINE" && die "cmdline.txt sets cma=, which a Raspberry Pi 4 does not boot with: $CMDLINE"
log "cmdline.txt: $CMDLINE"

# --- the partitions and the disk ----------------------------------------------------------------------
KERNEL="$(ls "$TREE"/boot/vmlinuz-* | sort -V | tail -1)"
INITRD="$(ls "$TREE"/boot/initrd.img-* | sort -V | tail -1)"
[[ -f $KERNEL && -f $INITRD ]] || die "no kernel or initrd in the root"
cp "$KERNEL" "$OUT/vmlinuz"
cp "$INITRD" "$OUT/initrd.img"

# The state partition holds two release slots of about 15 MB each (over-the-air updates) besides the relay's state.
BOOT_MB=256 STATE_MB=128
ROOT_MB=$(( $(du -sm --exclude=./boot/firmware "$TREE" | cut -f1) * 13 / 10 + 64 ))
# The boot partition: what raspi-firmware put in /boot/firmware (firmware, kernel, initrd, device trees).
mkdir -p "$WORK/boot"
cp -a "$TREE"/boot/firmware/. "$WORK/boot/"
rm -f "$WORK/boot.img"
mkfs.vfat -C -F 32 -n RASPIFIRM "$WORK/boot.img" $(( BOOT_MB * 1024 )) >/dev/null
[[ -z $(ls -A "$WORK/boot") ]] || mcopy -s -i "$WORK/boot.img" "$WORK"/boot/* ::/
# The state partition (image/rootfs/etc/fstab): root's, with the relay's state directory (edgerelay, 0700) and
# timesyncd's (systemd-timesync, as its StateDirectory= would make it) to be bound where they belong.
mkdir -p "$WORK/state/relay" "$WORK/state/timesync"
chmod 0755 "$WORK/state"
chown --reference="$TREE/var/lib/edgerelay" "$WORK/state/relay"
chmod 0700 "$WORK/state/relay"
TIMESYNC_IDS="$(awk -F: '$1 == "systemd-timesync" { print $3 ":" $4 }' "$TREE/etc/passwd")"
[[ -n $TIMESYNC_IDS ]] || die "the root has no systemd-timesync user"
chown "$TIMESYNC_IDS" "$WORK/state/timesync"
mkfs.ext4 -q -L EDGESTATE -d "$WORK/state" "$WORK/state.img" "${STATE_MB}M"
# The root, without what other partitions are mounted over, and with the mount points.
find "$TREE/boot/firmware" "$TREE/var/lib/edgerelay" -mindepth 1 -delete
mkdir -p "$TREE/var/lib/edgestate"
mkfs.ext4 -q -L EDGEROOT -d "$TREE" "$WORK/root.img" "${ROOT_MB}M"

IMAGE="$OUT/edgerelay-rpi-arm64.img"
rm -f "$IMAGE"
START=4 # MiB, the usual alignment for SD cards
truncate -s $(( (START + BOOT_MB + ROOT_MB + STATE_MB) * 1024 * 1024 )) "$IMAGE"
sfdisk --quiet "$IMAGE" <<PARTITIONS
label: dos
start=${START}MiB, size=${BOOT_MB}MiB, type=c, bootable
start=$(( START + BOOT_MB ))MiB, size=${ROOT_MB}MiB, type=83
start=$(( START + BOOT_MB + ROOT_MB ))MiB, size=${STATE_MB}MiB, type=83
PARTITIONS
dd if="$WORK/boot.img" of="$IMAGE" bs=1M seek=$START conv=notrunc status=none
dd if="$WORK/root.img" of="$IMAGE" bs=1M seek=$(( START + BOOT_MB )) conv=notrunc status=none
dd if="$WORK/state.img" of="$IMAGE" bs=1M seek=$(( START + BOOT_MB + ROOT_MB )) conv=notrunc status=none
rm -rf "$WORK"
log "built $IMAGE ($(( $(stat -c %s "$IMAGE") / 1024 / 1024 )) MiB: boot ${BOOT_MB}, root ${ROOT_MB}, state ${STATE_MB} MiB)"
echo "$IMAGE"
