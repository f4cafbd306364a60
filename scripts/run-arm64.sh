#!/usr/bin/env bash
# Run the linux-arm64 Native AOT binary on an x86_64 machine under user-mode emulation:
#
#   scripts/run-arm64.sh [edgerelay arguments, e.g. run --config FILE]
#
# qemu-aarch64-static (Debian's qemu-user-static) runs artifacts/linux-arm64/edgerelay with the arm64
# libraries of a small sysroot, artifacts/arm64-sysroot: Debian's libc6 and libssl3 for arm64, extracted by
# mmdebstrap (--variant=extract: unpacked, no maintainer script run) from the mirror apt is configured with.
# The binary needs libc and libm when it links, and libssl at run time: .NET's cryptography (the HMAC of
# MESSAGE-INTEGRITY, TLS) loads it. The sysroot is made once, under a lock, and reused.
#
# Under qemu-user there is no io_uring (qemu does not emulate it): the engine says so and uses recvmmsg.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARY="$ROOT/artifacts/linux-arm64/edgerelay"
SYSROOT="$ROOT/artifacts/arm64-sysroot"

log() { echo "run-arm64.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x $BINARY ]] || die "$BINARY does not exist: run scripts/publish.sh linux-arm64 first"
need=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
. "$ROOT/scripts/lib/apt.sh"
apt_install_missing "${need[@]}"

if [[ ! -e $SYSROOT/.complete ]]; then
    mkdir -p "$(dirname "$SYSROOT")"
    exec 9>"$SYSROOT.lock"
    flock 9
    if [[ ! -e $SYSROOT/.complete ]]; then
        # The host's own release and sources (deb822 or one-line), so that it comes from the configured mirror.
        . /etc/os-release
        SOURCES=/etc/apt/sources.list.d/debian.sources
        [[ -s $SOURCES ]] || SOURCES=/etc/apt/sources.list
        [[ -s $SOURCES ]] || die "no apt sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"
        log "making the arm64 sysroot ($VERSION_CODENAME: libc6, libssl3) in $SYSROOT"
        rm -rf "$SYSROOT"
        mmdebstrap --quiet --variant=extract --arch=arm64 --include=libc6,libssl3 "$VERSION_CODENAME" "$SYSROOT" "$SOURCES" \
            || die "mmdebstrap failed"
        touch "$SYSROOT/.complete"
    fi
    exec 9>&-
fi

exec qemu-aarch64-static -L "$SYSROOT" "$BINARY" "$@"
