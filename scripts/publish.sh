#!/usr/bin/env bash
# Publish the EdgeRelay Native AOT binary.
#
#   scripts/publish.sh [linux-x64|linux-arm64]      (default: linux-x64)
#
# Produces artifacts/RID/edgerelay (stripped; its debug symbols go to artifacts/symbols/RID/).
# Fails on any build warning (C#, trim/AOT IL2xxx/IL3xxx, linker). Installs the native toolchain it
# needs from Debian apt when missing: clang for a native build; for a cross build also lld and the
# Debian cross toolchain (gcc-<triple>, binutils-<triple>, libc6-dev-<arch>-cross).
#
# Cross-linking linux-arm64 on an x86_64 Debian host works like this:
#   - the ILCompiler sees host arch != target arch and passes clang --target=aarch64-linux-gnu itself;
#     clang then finds the Debian cross "sysroot" on its own (/usr/aarch64-linux-gnu/lib for glibc,
#     /usr/lib/gcc-cross/aarch64-linux-gnu/12 for crtbegin/libgcc).
#   - do NOT pass -p:SysRoot=/usr/aarch64-linux-gnu: Debian's cross libc.so is a linker script with
#     absolute paths (/usr/aarch64-linux-gnu/lib/libc.so.6) that the linker would then look up
#     "inside" the sysroot and fail.
#   - -p:LinkerFlavor=lld links with ld.lld (any target); -p:ObjCopyName=aarch64-linux-gnu-objcopy
#     strips with a target-aware objcopy (the host's binutils objcopy only knows x86).
#   - zlib/brotli: the .NET 10 NativeAOT runtime pack ships libz.a and libbrotli*.a for the target,
#     so no zlib1g-dev:arm64 (and no dpkg --add-architecture) is needed.
set -euo pipefail

usage() {
    echo "usage: $0 [linux-x64|linux-arm64]" >&2
    echo "  builds the Native AOT binary at artifacts/RID/edgerelay (RID defaults to linux-x64)" >&2
    exit 2
}

[[ $# -le 1 ]] || usage
RID="${1:-linux-x64}"
case "$RID" in
    linux-x64)   TARGET_ARCH=x86_64;  DEB_ARCH=amd64; ELF_MACHINE="3e 00" ;;
    linux-arm64) TARGET_ARCH=aarch64; DEB_ARCH=arm64; ELF_MACHINE="b7 00" ;;
    *) usage ;;
esac
TRIPLE="$TARGET_ARCH-linux-gnu"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROJECT=src/EdgeRelay/EdgeRelay.csproj
NAME=edgerelay                      # the project's AssemblyName
OUT="artifacts/$RID"
SYMBOLS="artifacts/symbols/$RID"

log() { echo "publish.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- toolchain ---------------------------------------------------------------------------------
HOST_ARCH="$(uname -m)"
[[ "$HOST_ARCH" == arm64 ]] && HOST_ARCH=aarch64
CROSS=false
[[ "$HOST_ARCH" != "$TARGET_ARCH" ]] && CROSS=true

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is not available to install packages"
    SUDO=sudo
fi

deb_installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == *"ok installed" ]]; }

# Each entry is "package probe": the package is needed unless the probe (a command on PATH, or an
# absolute path to a file) is already there or dpkg says the package is installed.
MISSING=()
need() {
    local pkg="$1" probe="$2"
    if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && return 0
    else command -v "$probe" >/dev/null 2>&1 && return 0
    fi
    command -v dpkg-query >/dev/null 2>&1 && deb_installed "$pkg" && return 0
    MISSING+=("$pkg")
}

# clang is the ILCompiler's compiler driver and linker front end on Linux (it pulls in binutils and
# the host libgcc/libc dev files on Debian).
need clang clang
if $CROSS; then
    deb_triple="${TRIPLE//_/-}"     # x86_64-linux-gnu -> x86-64-linux-gnu (Debian package names)
    need lld ld.lld
    need "gcc-$deb_triple" "$TRIPLE-gcc"                    # crtbegin*.o, libgcc for the target
    need "binutils-$deb_triple" "$TRIPLE-objcopy"           # target-aware objcopy for StripSymbols
    need "libc6-dev-$DEB_ARCH-cross" "/usr/$TRIPLE/lib/crt1.o"  # target glibc (the cross sysroot)
fi

if [[ ${#MISSING[@]} -gt 0 ]]; then
    command -v apt-get >/dev/null 2>&1 || die "missing ${MISSING[*]} and apt-get is not available; install them by hand"
    log "installing ${MISSING[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${MISSING[@]}"
fi

command -v dotnet >/dev/null 2>&1 || die "the .NET 10 SDK (dotnet) is not on PATH"

PROPS=(-p:TreatWarningsAsErrors=true)
if $CROSS; then
    # clang --target=$TRIPLE is set by the ILCompiler targets themselves (TargetTriple); see the header.
    PROPS+=(-p:LinkerFlavor=lld "-p:ObjCopyName=$TRIPLE-objcopy")
fi

# --- publish -----------------------------------------------------------------------------------
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

# The ILCompiler's LinkNative target is incremental on its input files only, not on the linker
# arguments: drop the previously linked binary so that it is always relinked with these settings.
rm -rf "src/EdgeRelay/bin/Release/net10.0/$RID/native"

log "publishing $RID (host $HOST_ARCH, cross: $CROSS)"
start=$SECONDS
# -warnaserror turns any MSBuild-level warning into an error as well.
dotnet publish "$PROJECT" -c Release -r "$RID" -o "$STAGE/publish" \
    -nologo -tl:off -v:minimal -warnaserror "${PROPS[@]}" 2>&1 | tee "$STAGE/build.log"
elapsed=$((SECONDS - start))

# Belt and braces: the contract is zero warnings of any kind (C#, IL2xxx/IL3xxx, clang, lld).
if grep -Ei 'warning[ :]|\bIL[23][0-9]{3}\b' "$STAGE/build.log" >/dev/null; then
    log "error: the build printed warnings:"
    grep -Ei 'warning[ :]|\bIL[23][0-9]{3}\b' "$STAGE/build.log" >&2
    exit 1
fi

BIN="$STAGE/publish/$NAME"
[[ -f "$BIN" ]] || die "dotnet publish did not produce $NAME"

# Sanity: an ELF for the requested architecture (e_machine at offset 18: 0x3e x86-64, 0xb7 aarch64).
magic="$(od -An -t x1 -N 4 "$BIN" | tr -s ' ' | sed 's/^ //;s/ $//')"
machine="$(od -An -t x1 -j 18 -N 2 "$BIN" | tr -s ' ' | sed 's/^ //;s/ $//')"
[[ "$magic" == "7f 45 4c 46" ]] || die "$NAME is not an ELF file"
[[ "$machine" == "$ELF_MACHINE" ]] || die "$NAME has ELF machine '$machine', expected '$ELF_MACHINE' for $RID"

mkdir -p "$OUT"
rm -f "$OUT/$NAME" "$OUT/$NAME.dbg"
install -m 0755 "$BIN" "$OUT/$NAME"
if [[ -f "$BIN.dbg" ]]; then
    mkdir -p "$SYMBOLS"
    install -m 0644 "$BIN.dbg" "$SYMBOLS/$NAME.dbg"
fi

# --- report ------------------------------------------------------------------------------------
echo
echo "Published $RID in ${elapsed}s:"
ls -l "$OUT/$NAME"
echo "path: $ROOT/$OUT/$NAME"
echo "size: $(stat -c %s "$OUT/$NAME") bytes"
if command -v file >/dev/null 2>&1; then
    file "$OUT/$NAME"
fi
[[ -f "$SYMBOLS/$NAME.dbg" ]] && echo "symbols: $ROOT/$SYMBOLS/$NAME.dbg"
exit 0
