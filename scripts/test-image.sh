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
# Fourth boot, an over-the-air update under the real unit: the state partition as the second boot left it, a new
# bootstrap file (a re-provisioning) whose cloud is an nginx on the host (TLS from a test CA, reached as 10.0.2.2)
# serving a signed document that names release 9.9.0 (the image's own arm64 binary under a manifest signed by a
# release key of its own). The box must download it into slot a, exit 75, be restarted by systemd, run it from
# the slot and pass its trial (/api/status: runningVersion 9.9.0, slot a, phase idle), then relay a TURN call.
# The clock (the Pi has no real-time clock): every boot starts with the board's RTC at 2000-01-01, and NTP cannot
# be reached. The box's time, from the Date header of its status page, must never be before the image was
# built (systemd's /usr/lib/clock-epoch), and on the second boot not before the time timesyncd saved on the
# state partition during the first.
# Prints the boot time to READY (the status page answering), the image size, each check and how long the update
# took; exit 0 if all pass.
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
# The fourth boot's cloud: nginx with TLS from a test CA (openssl), and jq to read the box's update status.
[[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v jq >/dev/null 2>&1 || need+=(jq)
. "$ROOT/scripts/lib/apt.sh"
apt_install_missing "${need[@]}"

WORK="$(mktemp -d)"
QEMU_PID=""
PEER_PID=""
NGINX_PID=""
cleanup() {
    [[ -z $QEMU_PID ]] || kill "$QEMU_PID" 2>/dev/null || true
    [[ -z $PEER_PID ]] || kill "$PEER_PID" 2>/dev/null || true
    # nginx's master (daemon off): SIGTERM stops its worker and itself; waited for, as its files are in $WORK.
    [[ -z $NGINX_PID ]] || { kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; } || true
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
# keygen FILE: a new signing key into FILE; prints its public key, as cloud.trustedKeys and cloud.releaseKeys take it.
keygen() {
    artifacts/linux-x64/edgerelay keygen --out "$1" 2>/dev/null | sed -n 's/^ *\([A-Za-z0-9+/=]\{40,\}\)$/\1/p' | head -1
}
TRUSTED_KEY="$(keygen "$WORK/key.pem")"
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
             "trustedKeys": ["$TRUSTED_KEY"] }
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

# boot_guest NAME [ARGUMENTS]: boots the disk (ARGUMENTS added to the kernel command line), waits for the status
# page (into $WORK/status.json), sets READY (seconds).
boot_guest() {
    log "booting ($1) under qemu-system-aarch64 -M virt (TCG): $CMDLINE${2:+ $2}"
    local start
    start=$(date +%s)
    qemu-system-aarch64 -M virt "${MACHINE[@]}" -nographic -no-reboot -dtb "$WORK/virt.dtb" \
        -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE console=ttyAMA0 panic=10${2:+ $2}" \
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

# check_relay: a TURN relay through the box, with turnutils_uclient to turnutils_peer on the host (10.0.2.2 to the guest).
check_relay() {
    local lost sent
    PEER_PORT=$(free_port)
    turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 &
    PEER_PID=$!
    sleep 0.5
    turnutils_uclient -u alice -w "correct horse battery staple" -p "$TURN_PORT" -e 10.0.2.2 -r "$PEER_PORT" \
        -n 50 -m 2 -z 20 127.0.0.1 > "$WORK/uclient.log" 2>&1 || { tail -20 "$WORK/uclient.log" >&2; die "turnutils_uclient"; }
    lost="$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$WORK/uclient.log" | tail -1)"
    sent="$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs.*/\1/p' "$WORK/uclient.log" | tail -1)"
    [[ $lost == 0 && ${sent:-0} -gt 0 ]] || { tail -20 "$WORK/uclient.log" >&2; die "uclient lost $lost of $sent"; }
    kill "$PEER_PID" 2>/dev/null || true
    PEER_PID=""
    log "TURN relay (turnutils_uclient, 2 allocations, ${sent} packets): 0 lost"
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

check_relay

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

# The fourth boot re-provisions the box as the second left it: its state partition, kept before the wipe below.
STATE_BYTES=$(( $(sfdisk --json "$DISK" | sed -n 's/.*"size": *\([0-9]*\).*/\1/p' | sed -n 3p) * 512 ))
dd if="$DISK" of="$WORK/state-partition.img" bs=1M iflag=skip_bytes,count_bytes skip="$STATE_OFFSET" count="$STATE_BYTES" status=none

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
THIRD_READY=$READY

# --- Fourth boot: an over-the-air update under the real unit ---------------------------------------------------
# The cloud: nginx on the host's loopback, which the guest reaches as 10.0.2.2 (qemu's user networking), with TLS
# from a test CA. The guest's clock at this boot is about the image's build time (the RTC says 2000, then
# clock-epoch and the time saved on the state partition; no NTP), so the certificates are valid from 2000-01-01:
# `openssl req -x509` (bookworm's openssl 3.0) cannot set a start date, `openssl ca -startdate` can.
CLOUD_PORT=$(free_port)
CLOUD="https://10.0.2.2:$CLOUD_PORT"
CA="$WORK/ca"
mkdir -p "$CA/issued" "$WORK/www/boxes" "$WORK/www/releases" "$WORK/nginx/logs" "$WORK/nginx/temp"
: > "$CA/index.txt"
echo 1000 > "$CA/serial"
cat > "$CA/ca.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
dir = $CA
database = \$dir/index.txt
new_certs_dir = \$dir/issued
serial = \$dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:10.0.2.2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
CERT_DATES=(-startdate 20000101000000Z -enddate "$(date -u -d '+7 days' +%Y%m%d%H%M%SZ)")
openssl req -new -config "$CA/ca.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA/ca.key" \
    -subj "/CN=EdgeRelay image test CA" -out "$CA/ca.csr" 2>/dev/null
openssl ca -batch -notext -config "$CA/ca.cnf" -selfsign -keyfile "$CA/ca.key" -in "$CA/ca.csr" -extensions ca_ext \
    "${CERT_DATES[@]}" -out "$CA/ca.pem" 2>"$CA/ca.log" || { cat "$CA/ca.log" >&2; die "openssl ca (the test CA)"; }
openssl req -new -config "$CA/ca.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA/server.key" \
    -subj "/CN=10.0.2.2" -out "$CA/server.csr" 2>/dev/null
openssl ca -batch -notext -config "$CA/ca.cnf" -cert "$CA/ca.pem" -keyfile "$CA/ca.key" -in "$CA/server.csr" \
    -extensions server_ext "${CERT_DATES[@]}" -out "$CA/server.pem" 2>"$CA/ca.log" || { cat "$CA/ca.log" >&2; die "openssl ca (the server)"; }

# The release: the image's own arm64 binary as version 9.9.0 (the version a box runs as is its slot's manifest's),
# signed by a release key of its own (cloud.releaseKeys), next to its manifest as `edgerelay release sign` expects.
RELEASE_KEY="$(keygen "$WORK/release-key.pem")"
RELEASE="edgerelay-9.9.0-linux-arm64"
cp artifacts/linux-arm64/edgerelay "$WORK/www/releases/$RELEASE"
artifacts/linux-x64/edgerelay release sign --binary "$WORK/www/releases/$RELEASE" --version 9.9.0 --rid linux-arm64 \
    --key "$WORK/release-key.pem" --out "$WORK/www/releases/$RELEASE.jws" > "$WORK/sign.log" 2>&1 \
    || { cat "$WORK/sign.log" >&2; die "edgerelay release sign"; }
# The box's document: the first boot's configuration, and the update. drainSeconds 0: nothing to wait for.
cat > "$WORK/test.json" <<JSON
{
  "version": 1,
  "realm": "edgerelay.test",
  "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }, { "transport": "tcp", "endpoint": "0.0.0.0:3478" }],
  "relay": { "address": "0.0.0.0", "portRange": "49152-49999" },
  "auth": { "users": { "alice": "correct horse battery staple" } },
  "peers": { "allow": ["10.0.2.2/32"] },
  "status": { "endpoint": "0.0.0.0:8080" },
  "leds": { "driver": "sysfs" },
  "update": { "version": "9.9.0", "manifestUrl": "$CLOUD/releases/$RELEASE.jws", "drainSeconds": 0 }
}
JSON
artifacts/linux-x64/edgerelay config sign --key "$WORK/key.pem" --out "$WORK/www/boxes/test.jws" "$WORK/test.json" > "$WORK/sign.log" 2>&1 \
    || { cat "$WORK/sign.log" >&2; die "edgerelay config sign"; }

# nginx as this script's own process (daemon off; its master's PID is NGINX_PID), with its own prefix under $WORK.
# The document needs the device token, as README's example host does; the releases do not.
TOKEN4="fourth-boot-device-token-$(date +%s)-must-be-erased"
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
# Workers as this user: \$WORK is 0700.
user $(id -un) $(id -gn);
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log notice;
events { worker_connections 64; }
http {
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
    access_log $WORK/nginx/logs/access.log;
    client_body_temp_path $WORK/nginx/temp/client_body;
    proxy_temp_path $WORK/nginx/temp/proxy;
    fastcgi_temp_path $WORK/nginx/temp/fastcgi;
    uwsgi_temp_path $WORK/nginx/temp/uwsgi;
    scgi_temp_path $WORK/nginx/temp/scgi;
    # The map's key, "Bearer " and the token, is longer than the default bucket takes.
    map_hash_bucket_size 128;
    map \$http_authorization \$edgerelay_box {
        "Bearer $TOKEN4"  test;
        default           "";
    }
    server {
        listen 127.0.0.1:$CLOUD_PORT ssl;
        ssl_certificate $CA/server.pem;
        ssl_certificate_key $CA/server.key;
        root $WORK/www;
        location /boxes/ {
            if (\$edgerelay_box = "") { return 401; }
            if (\$uri != "/boxes/\$edgerelay_box.jws") { return 403; }
        }
        location /releases/ { }
    }
}
CONF
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" > "$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 50); do
    curl -sf --max-time 2 --cacert "$CA/ca.pem" --connect-to "10.0.2.2:$CLOUD_PORT:127.0.0.1:$CLOUD_PORT" \
        -H "Authorization: Bearer $TOKEN4" -o /dev/null "$CLOUD/boxes/test.jws" && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/stdout.log" "$WORK/nginx/logs/error.log" >&2; die "nginx did not start"; }
    sleep 0.2
done
curl -sf --max-time 2 --cacert "$CA/ca.pem" --connect-to "10.0.2.2:$CLOUD_PORT:127.0.0.1:$CLOUD_PORT" -o /dev/null \
    "$CLOUD/releases/$RELEASE.jws" || die "nginx does not serve $CLOUD/releases/$RELEASE.jws"
log "cloud: nginx on 127.0.0.1:$CLOUD_PORT ($CLOUD to the guest, TLS from a test CA valid from 2000-01-01), document version 1 naming release 9.9.0"

# The second boot's state partition comes back (the third boot wiped it).
dd if="$WORK/state-partition.img" of="$DISK" bs=1M oflag=seek_bytes seek="$STATE_OFFSET" conv=notrunc status=none
rm -f "$WORK/state-partition.img"
# The cloud's CA travels inline in the bootstrap file (cloud.caCertificate as PEM text), as an operator's would:
# provisioning imports only that file from the FAT partition.
CA_PEM_JSON="$(jq -Rs . < "$CA/ca.pem")"

# A new bootstrap file: a re-provisioning (it replaces the configuration and clears the relay's state), with a cloud.
cat > "$WORK/edgerelay-bootstrap.json" <<JSON
{
  "realm": "edgerelay.test",
  "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }, { "transport": "tcp", "endpoint": "0.0.0.0:3478" }],
  "relay": { "address": "0.0.0.0", "portRange": "49152-49999" },
  "auth": { "users": { "alice": "correct horse battery staple" } },
  "peers": { "allow": ["10.0.2.2/32"] },
  "status": { "endpoint": "0.0.0.0:8080" },
  "leds": { "driver": "sysfs" },
  "cloud": { "url": "$CLOUD/boxes/test.jws", "deviceToken": "$TOKEN4",
             "trustedKeys": ["$TRUSTED_KEY"], "releaseKeys": ["$RELEASE_KEY"],
             "caCertificate": $CA_PEM_JSON, "pollIntervalSeconds": 5 }
}
JSON
mcopy -i "$FAT" "$WORK/edgerelay-bootstrap.json" ::/edgerelay-bootstrap.json

# The journal is in memory and there is no login: at this boot journald also writes it to the console, which is
# the only way to see what the relay and systemd said.
boot_guest fourth systemd.journald.forward_to_console=1
FOURTH_READY=$READY
# relay_journal: what the relay, its unit and provisioning said on the console.
relay_journal() {
    grep -a -E 'edgerelay|EdgeRelay' "$WORK/console-fourth.log" | tr -d '\r' | tail -"${1:-80}" >&2 || true
}
ota_failed() {
    log "the relay's journal (from the console):"
    relay_journal 120
    log "what the box asked nginx for:"
    tail -20 "$WORK/nginx/logs/access.log" >&2 || true
    log "last /api/status: $(cat "$WORK/status.json" 2>/dev/null)"
    die "$1"
}
# Until the box runs 9.9.0 from slot a and the update is done: a download of 15 MB, its SHA-256 and a try of
# --version under emulation, exit 75, systemd's restart, and the new slot's trial (READY and a self-probe).
OTA_START=$(date +%s)
OTA_WAIT=900
SEEN=""
while :; do
    kill -0 "$QEMU_PID" 2>/dev/null || { tail -40 "$WORK/console-fourth.log" >&2; ota_failed "the guest stopped"; }
    if curl -sf --max-time 5 "http://127.0.0.1:$STATUS_PORT/api/status" > "$WORK/status.json.new"; then
        mv "$WORK/status.json.new" "$WORK/status.json"
        NOW="$(jq -r '.update | "\(.runningVersion) slot \(.slot // "packaged") \(.phase)"' "$WORK/status.json" 2>/dev/null)" || NOW=""
        if [[ $NOW != "$SEEN" ]]; then
            log "  $(( $(date +%s) - OTA_START )) s after READY: running $NOW"
            SEEN=$NOW
        fi
        [[ $NOW == "9.9.0 slot a idle" ]] && break
        FAILURE="$(jq -r '.update | select(.phase == "refused" or .lastFailure != null) | "\(.phase): \(.problem // .lastFailure.reason)"' "$WORK/status.json" 2>/dev/null)" || FAILURE=""
        [[ -z $FAILURE ]] || ota_failed "the update failed: $FAILURE"
    fi
    (( $(date +%s) - OTA_START < OTA_WAIT )) || ota_failed "the box did not run release 9.9.0 from slot a within $OTA_WAIT s of READY"
    sleep 2
done
OTA_TIME=$(( $(date +%s) - OTA_START ))
log "over-the-air update: 0.1.0 -> 9.9.0 in slot a, phase idle, ${OTA_TIME} s after READY ($(( $(date +%s) - STARTED )) s after power-on)"
grep -a -o -E 'update to 9\.9\.0: .*|edgerelay: exiting with status 75.*|edgerelay\.service: Scheduled restart job.*|edgerelay: running release 9\.9\.0 from slot a.*|release 9\.9\.0 in slot a is healthy.*' \
    "$WORK/console-fourth.log" | tr -d '\r' | sed 's/^/test-image.sh:   journal: /' >&2 || true
check_relay
stop_guest
dd if="$DISK" of="$WORK/boot-partition.raw" bs=512 skip=$(( BOOT_OFFSET / 512 )) count="$BOOT_SECTORS" status=none
if grep -a -q "$TOKEN4" "$WORK/boot-partition.raw"; then
    die "the fourth boot's device token is still readable on the boot partition"
fi
kill "$NGINX_PID" 2>/dev/null || true
wait "$NGINX_PID" 2>/dev/null || true
NGINX_PID=""
log "fourth boot: re-provisioned with a cloud, updated itself over the air to 9.9.0 under its unit, relays; token erased"
log "passed: image $(( $(stat -c %s "$IMAGE") / 1024 / 1024 )) MiB, boot to READY ${FIRST_READY} s (second boot ${SECOND_READY} s, third ${THIRD_READY} s, fourth ${FOURTH_READY} s), over-the-air update ${OTA_TIME} s"
