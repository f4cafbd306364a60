#!/usr/bin/env bash
# Boot the SD-card image under emulation and check it relays:
#
#   scripts/test-image.sh [IMAGE]        (default: artifacts/image/edgerelay-rpi-arm64.img; built when missing)
#
# A copy of the image gets a first-boot bootstrap file on its FAT partition (a configuration with a user for
# the test, and a cloud section whose device token must be erased after import). qemu-system-aarch64 -M virt
# (software emulation: there is no KVM here) boots Debian's arm64 kernel and initrd from the image, with the
# kernel command line of the image's cmdline.txt (root by label, read-only) and the image's disk as a virtio
# drive; user-mode networking forwards UDP and TCP 3478 and the status page's TCP 8080 to ports on 127.0.0.1.
# The machine's device tree gets the Raspberry Pi's LED node (gpio-leds "leds" with ACT and PWR, on the virt
# board's PL061 GPIO lines), so that the relay drives kernel LEDs at the Pi's sysfs path under its sandboxed unit.
# First boot, from the host: a STUN binding (turnutils_stunclient), a TURN relay with turnutils_uclient to
# turnutils_peer on the host (the guest reaches it as 10.0.2.2), and GET /api/status (the provisioned
# configuration, both LEDs driven). Then the guest is stopped and the FAT partition read again: the token must be
# gone, and the state partition must hold the configuration. Second boot, without a bootstrap file: the box runs
# the configuration it remembers. Third boot, with the state partition wiped: the box runs the packaged default.
# The clock (the Pi has no real-time clock): every boot starts with the board's RTC at 2000-01-01, and NTP cannot
# be reached. The box's time, from the Date header of its status page, must never be before the image was
# built (systemd's /usr/lib/clock-epoch), and on the second boot not before the time timesyncd saved on the
# state partition during the first.
# Prints the boot time to READY (the status page answering), the image size and each check; exit 0 if all pass.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "test-image.sh: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
trap 'log "FAILED: line $LINENO: $BASH_COMMAND"' ERR

IMAGE="${1:-artifacts/image/edgerelay-rpi-arm64.img}"
[[ -f $IMAGE ]] || IMAGE="$(scripts/build-image.sh | tail -1)"
# The host's binary makes the test's signing key (cloud.trustedKeys of the bootstrap file).
[[ -x artifacts/linux-x64/edgerelay ]] || scripts/publish.sh linux-x64
KERNEL="$(dirname "$IMAGE")/vmlinuz"
INITRD="$(dirname "$IMAGE")/initrd.img"
need=()
command -v qemu-system-aarch64 >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v turnutils_uclient >/dev/null 2>&1 || need+=(coturn)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v fdtput >/dev/null 2>&1 || need+=(device-tree-compiler)
command -v debugfs >/dev/null 2>&1 || need+=(e2fsprogs)
. "$ROOT/scripts/lib/apt.sh"
apt_install_missing "${need[@]}"

WORK="$(mktemp -d)"
QEMU_PID=""
PEER_PID=""
cleanup() {
    [[ -z $QEMU_PID ]] || kill "$QEMU_PID" 2>/dev/null || true
    [[ -z $PEER_PID ]] || kill "$PEER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
DISK="$WORK/disk.img"
cp --sparse=always "$IMAGE" "$DISK"
# The FAT partition is the first: its offset from the partition table.
BOOT_OFFSET=$(( $(sfdisk --json "$DISK" | sed -n 's/.*"start": *\([0-9]*\).*/\1/p' | head -1) * 512 ))
FAT="$DISK@@$BOOT_OFFSET"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || shuf -i 20000-40000 -n 1; }
TURN_PORT=$(free_port); STATUS_PORT=$(free_port)
TOKEN="first-boot-device-token-$(date +%s)-must-be-erased"
cat > "$WORK/edgerelay-bootstrap.json" <<JSON
{
  "realm": "edgerelay.test",
  "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }, { "transport": "tcp", "endpoint": "0.0.0.0:3478" }],
  "relay": { "address": "0.0.0.0", "portRange": "49152-49999" },
  "auth": { "users": { "alice": "correct horse battery staple" } },
  "peers": { "allow": ["10.0.2.2/32"] },
  "status": { "endpoint": "0.0.0.0:8080" },
  "leds": { "driver": "sysfs" },
  "cloud": { "url": "https://config.invalid/boxes/test.jws", "deviceToken": "$TOKEN",
             "trustedKeys": ["$(artifacts/linux-x64/edgerelay keygen --out "$WORK/key.pem" 2>/dev/null | sed -n 's/^ *\([A-Za-z0-9+/=]\{40,\}\)$/\1/p' | head -1)"] }
}
JSON
mcopy -i "$FAT" "$WORK/edgerelay-bootstrap.json" ::/edgerelay-bootstrap.json

# The kernel command line the Pi's firmware would pass (cmdline.txt), with the virt board's serial console.
CMDLINE="$(mtype -i "$FAT" ::/cmdline.txt | tr -d '\r' | tr ' ' '\n' | grep -v '^console=' | tr '\n' ' ')"
grep -q 'root=LABEL=EDGEROOT' <<<"$CMDLINE" || die "cmdline.txt does not name the root by label: $CMDLINE"
MACHINE=(-cpu cortex-a72 -smp 2 -m 1024 -rtc base=2000-01-01T00:00:00)
# The Pi's LEDs: its device tree has a gpio-leds node "leds" (ACT green, PWR red), so the kernel makes
# /sys/devices/platform/leds/leds/{ACT,PWR}. Here on the virt board's PL061 GPIO controller, lines 0 and 1.
qemu-system-aarch64 -M "virt,dumpdtb=$WORK/virt.dtb" "${MACHINE[@]}" -nographic -nic none >/dev/null
GPIO_NODE="/$(fdtget -l "$WORK/virt.dtb" / | grep -m1 '^pl061@')"
GPIO_PHANDLE="$(fdtget -t u "$WORK/virt.dtb" "$GPIO_NODE" phandle)"
fdtput -c "$WORK/virt.dtb" /leds /leds/led-act /leds/led-pwr
fdtput -t s "$WORK/virt.dtb" /leds compatible gpio-leds
fdtput -t s "$WORK/virt.dtb" /leds/led-act label ACT
fdtput -t u "$WORK/virt.dtb" /leds/led-act gpios "$GPIO_PHANDLE" 0 0
fdtput -t s "$WORK/virt.dtb" /leds/led-pwr label PWR
fdtput -t u "$WORK/virt.dtb" /leds/led-pwr gpios "$GPIO_PHANDLE" 1 0

# boot_guest NAME: boots the disk, waits for the status page (into $WORK/status.json), sets READY (seconds).
boot_guest() {
    log "booting ($1) under qemu-system-aarch64 -M virt (TCG): $CMDLINE"
    local start
    start=$(date +%s)
    qemu-system-aarch64 -M virt "${MACHINE[@]}" -nographic -no-reboot -dtb "$WORK/virt.dtb" \
        -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE console=ttyAMA0 panic=10" \
        -drive "file=$DISK,format=raw,if=virtio" \
        -netdev "user,id=net0,hostfwd=udp:127.0.0.1:$TURN_PORT-:3478,hostfwd=tcp:127.0.0.1:$TURN_PORT-:3478,hostfwd=tcp:127.0.0.1:$STATUS_PORT-:8080" \
        -device virtio-net-pci,netdev=net0,romfile= > "$WORK/console-$1.log" 2>&1 &
    QEMU_PID=$!
    STARTED=$start
    READY=""
    for _ in $(seq 1 900); do
        kill -0 "$QEMU_PID" 2>/dev/null || { tail -40 "$WORK/console-$1.log" >&2; die "the guest stopped"; }
        if curl -sf --max-time 2 -D "$WORK/headers.txt" "http://127.0.0.1:$STATUS_PORT/api/status" > "$WORK/status.json"; then
            READY=$(( $(date +%s) - start ))
            break
        fi
        sleep 1
    done
    [[ -n $READY ]] || { tail -60 "$WORK/console-$1.log" >&2; die "the status page did not answer within 900 s"; }
    log "boot to READY ($1): ${READY} s (the status page answers once every listener is bound)"
}

# stop_guest: a power cut, as far as the guest knows (the state partition is journalled for exactly this).
stop_guest() {
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
}

# guest_time: the box's clock (seconds since 1970), from the Date header of its last status page answer.
guest_time() {
    date -u -d "$(sed -n 's/^[Dd]ate: *//p' "$WORK/headers.txt" | tr -d '\r')" +%s
}
# debugfs_mtime FS PATH: a file's modification time (seconds since 1970) in an ext4 file system image.
debugfs_mtime() {
    local text
    text="$(TZ=UTC debugfs -R "stat $2" "$1" 2>/dev/null | sed -n 's/^ *mtime: *0x[0-9a-f:]* -- //p')"
    [[ -n $text ]] || return 1
    TZ=UTC date -d "$text" +%s
}
# check_clock WHAT NOT_BEFORE: the box's time is not before NOT_BEFORE.
check_clock() {
    local now
    now="$(guest_time)"
    [[ $now -ge $2 ]] || die "the box's clock ($(date -u -d "@$now" +%FT%TZ)) is before $1 ($(date -u -d "@$2" +%FT%TZ))"
    log "clock: $(date -u -d "@$now" +%FT%TZ), not before $1 ($(date -u -d "@$2" +%FT%TZ)); the RTC said 2000-01-01"
}

ROOT_OFFSET=$(( $(sfdisk --json "$DISK" | sed -n 's/.*"start": *\([0-9]*\).*/\1/p' | sed -n 2p) * 512 ))
STATE_OFFSET=$(( $(sfdisk --json "$DISK" | sed -n 's/.*"start": *\([0-9]*\).*/\1/p' | sed -n 3p) * 512 ))
STATE_FS="$DISK?offset=$STATE_OFFSET"
EPOCH="$(debugfs_mtime "$DISK?offset=$ROOT_OFFSET" /usr/lib/clock-epoch)" || die "the image has no /usr/lib/clock-epoch"

# check_status: the provisioned configuration runs, and both of the Pi's LEDs are driven.
check_status() {
    STATUS="$(cat "$WORK/status.json")"
    grep -q '"listeners":\[{"transport":"udp"' <<<"$STATUS" || die "the status has no udp listener: $STATUS"
    grep -q 'D5-needs-configuration' <<<"$STATUS" && die "the provisioned configuration was not used: $STATUS"
    grep -q '"outputs":\["green","red"\]' <<<"$STATUS" \
        || die "the relay does not drive the ACT and PWR LEDs under its unit: $STATUS"
    log "GET /api/status: $(grep -o '"summary":"[^"]*"' <<<"$STATUS" | head -1), LEDs $(grep -o '"led":{[^}]*}' <<<"$STATUS")"
}

log "image $IMAGE: $(( $(stat -c %s "$IMAGE") / 1024 / 1024 )) MiB"
boot_guest first
FIRST_READY=$READY
check_status
check_clock "the image's build (clock-epoch)" "$EPOCH"
# No NTP server answers here: the relay, under its unit (ProtectClock=yes refuses adjtimex), reads timesyncd's
# state, says the clock is not synchronised, and shows D11.
CLOCK="$(grep -o '"clock":{[^}]*}' "$WORK/status.json")" || die "the status has no clock: $(cat "$WORK/status.json")"
grep -q '"state":"unsynchronised"' <<<"$CLOCK" && grep -q '"source":"systemd-timesyncd"' <<<"$CLOCK" \
    || die "the relay should read timesyncd's state as not synchronised: $CLOCK"
grep -q 'D11-clock-unsynchronised' "$WORK/status.json" || die "no D11 while the clock is not synchronised: $(cat "$WORK/status.json")"
log "clock state under the unit: $CLOCK"

turnutils_stunclient -p "$TURN_PORT" 127.0.0.1 > "$WORK/stun.log" 2>&1 || { cat "$WORK/stun.log" >&2; die "STUN binding"; }
log "STUN binding: $(grep -m1 'reflexive addr' "$WORK/stun.log")"

PEER_PORT=$(free_port)
turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 &
PEER_PID=$!
sleep 0.5
turnutils_uclient -u alice -w "correct horse battery staple" -p "$TURN_PORT" -e 10.0.2.2 -r "$PEER_PORT" \
    -n 50 -m 2 -z 20 127.0.0.1 > "$WORK/uclient.log" 2>&1 || { tail -20 "$WORK/uclient.log" >&2; die "turnutils_uclient"; }
LOST="$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$WORK/uclient.log" | tail -1)"
SENT="$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs.*/\1/p' "$WORK/uclient.log" | tail -1)"
[[ $LOST == 0 && ${SENT:-0} -gt 0 ]] || { tail -20 "$WORK/uclient.log" >&2; die "uclient lost $LOST of $SENT"; }
kill "$PEER_PID" 2>/dev/null || true
PEER_PID=""
log "TURN relay (turnutils_uclient, 2 allocations, ${SENT} packets): 0 lost"

# timesyncd saves the time on the state partition every 60 s (SaveIntervalSec=): let it, before the power cut.
while (( $(date +%s) - STARTED < 150 )); do sleep 5; done
stop_guest
if mtype -i "$FAT" ::/edgerelay-bootstrap.json >/dev/null 2>&1; then die "edgerelay-bootstrap.json is still on the boot partition"; fi
# Not even in the FAT's free clusters (the provisioning overwrites the file before deleting it).
BOOT_SECTORS=$(sfdisk --json "$DISK" | sed -n 's/.*"size": *\([0-9]*\).*/\1/p' | head -1)
# (Through a file: grep -q ends at the first match, and under pipefail dd's SIGPIPE would turn a find into a miss.)
dd if="$DISK" of="$WORK/boot-partition.raw" bs=512 skip=$(( BOOT_OFFSET / 512 )) count="$BOOT_SECTORS" status=none
if grep -a -q "$TOKEN" "$WORK/boot-partition.raw"; then
    die "the device token is still readable on the boot partition"
fi
log "first-boot provisioning: the bootstrap file was imported and its token erased from the boot partition ($(mtype -i "$FAT" ::/edgerelay-bootstrap.imported.txt 2>/dev/null | head -1))"

# The state partition (the third): the provisioned configuration, readable by the relay's group only, and the
# time timesyncd saved.
CONFIG_MODE="$(debugfs -R "stat /edgerelay.json" "$STATE_FS" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')"
[[ $CONFIG_MODE == 0640 ]] || die "the state partition has no edgerelay.json of mode 0640 (mode: '$CONFIG_MODE')"
debugfs -R "cat /edgerelay.json" "$STATE_FS" 2>/dev/null | grep -q '"alice"' || die "the state partition's edgerelay.json is not the bootstrap file"
log "state partition: edgerelay.json (0640) as provisioned"

SAVED="$(debugfs_mtime "$STATE_FS" /timesync/clock)" || die "timesyncd saved no clock file on the state partition"
[[ $SAVED -gt $EPOCH ]] || die "the saved time ($(date -u -d "@$SAVED" +%FT%TZ)) is not after the image's build"
log "state partition: timesync/clock saved at $(date -u -d "@$SAVED" +%FT%TZ) (box time)"

boot_guest second
SECOND_READY=$READY
check_status
check_clock "the time saved on the state partition" "$SAVED"
turnutils_stunclient -p "$TURN_PORT" 127.0.0.1 > "$WORK/stun.log" 2>&1 || { cat "$WORK/stun.log" >&2; die "STUN binding after the second boot"; }
stop_guest
log "second boot: the remembered configuration runs"

# A damaged state partition (its superblocks gone): the box still boots, runs the packaged default (needs
# configuration, amber) and answers STUN; the relay and time sync do not depend on the partition.
dd if=/dev/zero of="$DISK" bs=1M seek=$(( STATE_OFFSET / 1024 / 1024 )) count=64 conv=notrunc status=none
boot_guest third
STATUS="$(cat "$WORK/status.json")"
grep -q 'D5-needs-configuration' <<<"$STATUS" || die "without a state partition the box should run the packaged default: $STATUS"
check_clock "the image's build (clock-epoch)" "$EPOCH"
turnutils_stunclient -p "$TURN_PORT" 127.0.0.1 > "$WORK/stun.log" 2>&1 || { cat "$WORK/stun.log" >&2; die "STUN binding without a state partition"; }
stop_guest
log "third boot, state partition wiped: the box runs the packaged default (D5, needs configuration) and answers STUN"
log "passed: image $(( $(stat -c %s "$IMAGE") / 1024 / 1024 )) MiB, boot to READY ${FIRST_READY} s (second boot ${SECOND_READY} s, third ${READY} s)"
