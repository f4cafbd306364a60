#!/usr/bin/env bash
# Publish the EdgeRelay Native AOT binary.
#
#   scripts/publish.sh [linux-x64|linux-arm64]      (default: linux-x64)
#
# Produces artifacts/RID/edgerelay (stripped; its debug symbols go to artifacts/symbols/RID/), and next to it the
# release files of over-the-air updates (README: Updates): artifacts/RID/edgerelay-VERSION-RID, a copy of the
# binary under the name its manifest points to, and with EDGERELAY_RELEASE_KEY the signed manifest
# artifacts/RID/edgerelay-VERSION-RID.jws. VERSION is what the binary's --version prints.
#
# Environment:
#   EDGERELAY_VERSION=1.4.2         build that version instead of Directory.Build.props' <Version>
#   EDGERELAY_RELEASE_KEY=KEY.pem   sign the release with this key (`edgerelay keygen --out KEY.pem`)
#   EDGERELAY_RELEASE_FLOOR=1.4.0   the manifest's floor: boxes that commit this release never go below 1.4.0
#
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
# A relative key path is the caller's: resolved before the cd.
RELEASE_KEY="${EDGERELAY_RELEASE_KEY:+$(realpath -m -- "$EDGERELAY_RELEASE_KEY")}"
cd "$ROOT"

PROJECT=src/EdgeRelay/EdgeRelay.csproj
NAME=edgerelay                      # the project's AssemblyName
OUT="artifacts/$RID"
SYMBOLS="artifacts/symbols/$RID"

log() { echo "publish.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Before a build of minutes, what would stop the release files at its end.
if [[ -n $RELEASE_KEY && ! ( -f $RELEASE_KEY && -r $RELEASE_KEY ) ]]; then
    die "EDGERELAY_RELEASE_KEY=$EDGERELAY_RELEASE_KEY is not a readable file (make a release key with: edgerelay keygen --out FILE)"
fi
# A release version is two to four numbers joined by dots (ReleaseVersion); MSBuild's Version also makes the
# AssemblyVersion, whose numbers stop at 65534.
if [[ -n ${EDGERELAY_VERSION:-} ]]; then
    [[ $EDGERELAY_VERSION =~ ^[0-9]{1,5}(\.[0-9]{1,5}){1,3}$ ]] \
        || die "EDGERELAY_VERSION=$EDGERELAY_VERSION is not a release version: expected two to four numbers joined by dots, e.g. 1.4.2"
    for number in ${EDGERELAY_VERSION//./ }; do
        (( 10#$number <= 65534 )) || die "EDGERELAY_VERSION=$EDGERELAY_VERSION: $number is more than 65534, which an assembly version cannot hold"
    done
fi

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
[[ -z ${EDGERELAY_VERSION:-} ]] || PROPS+=("-p:Version=$EDGERELAY_VERSION")
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

# --- release files ---------------------------------------------------------------------------------
# VERSION is what the built binary says it is, since a box takes a release for the version its manifest names.
# A native binary is asked directly. A cross-built arm64 binary is asked under qemu-user (scripts/run-arm64.sh,
# which scripts/test.sh sets up anyway): simpler would be the linux-x64 binary's answer, but that binary may come
# from another build (an older commit, another EDGERELAY_VERSION), and a release published under a wrong version
# cannot be taken back from the boxes that installed it.
# Signing needs an edgerelay that runs here, of any version with the release command: this binary when native;
# for arm64, the linux-x64 binary when there is one that has it (no emulation), else this one under qemu-user.
RUN_THIS=()
SIGNER=()
if ! $CROSS; then
    RUN_THIS=("$ROOT/$OUT/$NAME")
    SIGNER=("$ROOT/$OUT/$NAME")
elif [[ $RID == linux-arm64 && $HOST_ARCH == x86_64 ]]; then
    RUN_THIS=("$ROOT/scripts/run-arm64.sh")
    if [[ -x artifacts/linux-x64/$NAME ]] && "artifacts/linux-x64/$NAME" release --help >/dev/null 2>&1; then
        SIGNER=("$ROOT/artifacts/linux-x64/$NAME")
    else
        SIGNER=("$ROOT/scripts/run-arm64.sh")
    fi
fi

RELEASE=""
if [[ ${#RUN_THIS[@]} -eq 0 ]]; then
    [[ -z $RELEASE_KEY ]] || die "cannot run a $RID binary on this $HOST_ARCH host to learn its version: no release can be signed here"
    log "cannot run a $RID binary on this $HOST_ARCH host to learn its version: no release files"
else
    reported="$("${RUN_THIS[@]}" --version)" || die "$OUT/$NAME --version failed"
    VERSION="${reported#"$NAME "}"
    [[ $VERSION =~ ^[0-9]+(\.[0-9]+){1,3}$ ]] || die "$OUT/$NAME --version says '$reported': not a release version (numbers joined by dots)"
    [[ -z ${EDGERELAY_VERSION:-} || $VERSION == "$EDGERELAY_VERSION" ]] \
        || die "$OUT/$NAME says it is version $VERSION, not EDGERELAY_VERSION=$EDGERELAY_VERSION"
    RELEASE="$OUT/$NAME-$VERSION-$RID"
    # A manifest left from an earlier build of this version would name another binary's hash: it goes first.
    rm -f "$RELEASE" "$RELEASE.jws"
    install -m 0755 "$OUT/$NAME" "$RELEASE"
    SIGN=("${SIGNER[@]}" release sign --binary "$ROOT/$RELEASE" --version "$VERSION" --rid "$RID" ${EDGERELAY_RELEASE_FLOOR:+--floor "$EDGERELAY_RELEASE_FLOOR"})
    if [[ -n $RELEASE_KEY ]]; then
        "${SIGN[@]}" --key "$RELEASE_KEY" --out "$ROOT/$RELEASE.jws" || die "signing the release failed"
    else
        printf -v command '%q ' "${SIGN[@]}" --key RELEASE-KEY.pem --out "$ROOT/$RELEASE.jws"
        log "the release is not signed (EDGERELAY_RELEASE_KEY is not set); to sign it: ${command% }"
    fi
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
if [[ -n $RELEASE ]]; then
    echo "release: $ROOT/$RELEASE (version $VERSION)"
    [[ -f $RELEASE.jws ]] && echo "manifest: $ROOT/$RELEASE.jws"
fi
exit 0
