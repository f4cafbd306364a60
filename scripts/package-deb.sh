#!/usr/bin/env bash
# Build the Debian package of the relay, for Raspberry Pi OS and Debian:
#
#   scripts/package-deb.sh [amd64|arm64]      (default: arm64, the Raspberry Pi)
#
# Produces artifacts/edgerelay_VERSION_ARCH.deb from the Native AOT binary (published first with
# scripts/publish.sh when artifacts/RID/edgerelay is missing or older than a source file) and image/: the
# systemd units and the sysusers.d file (image/systemd/: the relay, and edgerelay-timesync, which hands the
# configuration's NTP servers to systemd-timesyncd), the commented default configuration as a conffile
# (image/edgerelay.json), the udev rule and maintainer scripts (image/debian/). Then runs lintian on it, which
# must report no error. EDGERELAY_DEB_VERSION=V sets another package version (the upgrade test uses it).
#
# What the package does when installed is described in image/debian/postinst and README.md (Debian package).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "package-deb.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { echo "usage: $0 [amd64|arm64]" >&2; exit 2; }

[[ $# -le 1 ]] || usage
ARCH="${1:-arm64}"
case "$ARCH" in
    amd64) RID=linux-x64 ;;
    arm64) RID=linux-arm64 ;;
    *) usage ;;
esac

need=()
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v fakeroot >/dev/null 2>&1 || need+=(fakeroot)
. "$ROOT/scripts/lib/apt.sh"
apt_install_missing "${need[@]}"

BINARY="artifacts/$RID/edgerelay"
# A binary left from another checkout or an older commit is not packaged: any source newer than it publishes anew.
if [[ ! -x $BINARY || -n "$(find src Directory.Build.props Directory.Packages.props -newer "$BINARY" -type f \
        \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' \) \
        -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]]; then
    scripts/publish.sh "$RID"
fi
VERSION="${EDGERELAY_DEB_VERSION:-$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' Directory.Build.props | head -1)}"
[[ -n $VERSION ]] || die "no <Version> in Directory.Build.props"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/edgerelay"
install -d "$PKG/DEBIAN" "$PKG/usr/bin" "$PKG/lib/systemd/system" "$PKG/usr/lib/sysusers.d" "$PKG/lib/udev/rules.d" \
    "$PKG/etc/edgerelay" "$PKG/usr/share/doc/edgerelay" "$PKG/usr/share/lintian/overrides"
install -m 0755 "$BINARY" "$PKG/usr/bin/edgerelay"
install -m 0644 image/systemd/edgerelay.service "$PKG/lib/systemd/system/edgerelay.service"
install -m 0644 image/systemd/edgerelay-timesync.path image/systemd/edgerelay-timesync.service "$PKG/lib/systemd/system/"
install -D -m 0755 image/systemd/edgerelay-timesync "$PKG/usr/lib/edgerelay/timesync"
install -m 0644 image/systemd/edgerelay.sysusers.conf "$PKG/usr/lib/sysusers.d/edgerelay.conf"
install -m 0644 image/debian/60-edgerelay.rules "$PKG/lib/udev/rules.d/60-edgerelay.rules"
install -m 0644 image/edgerelay.json "$PKG/etc/edgerelay/edgerelay.json"
install -m 0644 image/debian/copyright "$PKG/usr/share/doc/edgerelay/copyright"
install -m 0644 README.md "$PKG/usr/share/doc/edgerelay/README.md"
gzip -9n "$PKG/usr/share/doc/edgerelay/README.md"
# A changelog entry for this build (Debian policy 12.7), dated by the last commit so that builds repeat.
DATE="$(git log -1 --format=%cD 2>/dev/null || date -R)"
printf 'edgerelay (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- EdgeRelay developers <edgerelay@example.org>  %s\n' \
    "$VERSION" "$(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree')" "$DATE" \
    | gzip -9n > "$PKG/usr/share/doc/edgerelay/changelog.gz"
# Native AOT links the runtime pack's zlib and brotli into the binary, as every .NET AOT program does.
printf 'edgerelay: embedded-library zlib [usr/bin/edgerelay]\n' > "$PKG/usr/share/lintian/overrides/edgerelay"
chmod 0644 "$PKG/usr/share/lintian/overrides/edgerelay"

install -m 0644 image/debian/conffiles "$PKG/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "image/debian/$script" "$PKG/DEBIAN/$script"
done
INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)"
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@INSTALLED_SIZE@|$INSTALLED_SIZE|" image/debian/control > "$PKG/DEBIAN/control"
(cd "$PKG" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$PKG/DEBIAN/md5sums"
chmod 0644 "$PKG/DEBIAN/md5sums"

mkdir -p artifacts
DEB="artifacts/edgerelay_${VERSION}_${ARCH}.deb"
fakeroot dpkg-deb --build -Zxz --root-owner-group "$PKG" "$DEB" >/dev/null
log "built $DEB ($(stat -c %s "$DEB") bytes)"

# lintian: no error (warnings and notes are printed for the record). It exits non-zero for an error, and also
# when it cannot check the package at all: either fails the build.
set +e
LINTIAN="$(lintian --fail-on error --tag-display-limit 0 "$DEB" 2>&1)"
lintian_status=$?
set -e
[[ -z $LINTIAN ]] || echo "$LINTIAN" >&2
if [[ $lintian_status -ne 0 ]] || grep -q '^E:' <<<"$LINTIAN"; then
    die "lintian failed (exit $lintian_status) or reports errors for $DEB"
fi
echo "$DEB"
