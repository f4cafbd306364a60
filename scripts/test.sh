#!/usr/bin/env bash
# The test command of the README, and what .ci/run calls: on a fresh Debian 12 machine with the .NET 10
# SDK it installs what the tests need, publishes the Native AOT binary for both targets (zero warnings),
# runs every test project, and then builds the SD-card image and boots it under emulation. It ends with one line
# "N passed, N failed".
#
#   scripts/test.sh [extra dotnet test arguments, e.g. --filter Interop]   (with arguments, no image)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "test.sh: $*" >&2; }

# --- what the tests run besides our code -------------------------------------------------------
# coturn: its client tools (turnutils_uclient, turnutils_peer, turnutils_stunclient) are the
# third-party clients the interop tests drive. Only the tools are used; its server is never started.
# chromium: Debian's browser for tests/EdgeRelay.Browser.Tests. Playwright for .NET drives
# /usr/bin/chromium; its NuGet package carries its own driver, and its browser download is never used.
need=()
for tool in turnutils_uclient turnutils_peer turnutils_stunclient; do
    command -v "$tool" >/dev/null 2>&1 || { need+=(coturn); break; }
done
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v promtool >/dev/null 2>&1 || need+=(prometheus) # promtool checks /metrics
# systemd: systemd-analyze checks image/systemd/edgerelay.service (tests/EdgeRelay.Tests/Systemd); a
# container's Debian may lack it. Only the tool is used; no systemd is started.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# nginx: "the cloud" of the cloud-configuration tests (tests/Shared/NginxServer.cs) is a real nginx
# on loopback with TLS from a test CA, serving the signed configuration document and failing the ways
# a real static host fails (500, stalled and truncated bodies, redirects, down). Each test starts its
# own nginx with its own prefix and config; the system's nginx is never started. In bookworm the
# package "nginx" is the server with ssl, proxy, rewrite (if/return), map and limit_rate built in;
# nginx-light and nginx-core only add dynamic modules on top of it.
[[ -x /usr/sbin/nginx ]] || need+=(nginx)
# iproute2 and iptables: the NAT behaviour tests (tests/EdgeRelay.Tests/Probe/NatLab.cs) build network
# namespaces of their own joined by veth pairs (ip netns, ip link) with Linux's NAT in the middle
# (iptables -t nat ... MASQUERADE [--random-fully]), run as root. Everything lives and dies inside those
# namespaces; the host's interfaces, addresses and rules are never touched.
command -v ip >/dev/null 2>&1 || [[ -x /usr/sbin/ip || -x /sbin/ip ]] || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || [[ -x /usr/sbin/iptables ]] || need+=(iptables)
# curl: tests that run the relay inside a network namespace of their own read its status page there
# (ip netns exec ... curl), where the test process cannot connect: the self-check tests read /api/status
# (tests/EdgeRelay.Tests/Probe/SelfCheckBehindLinuxNatTests.cs), the two-NAT browser test /metrics
# (tests/EdgeRelay.Browser.Tests/TwoNatsThroughTheRelayTests.cs). Debian 12's minimal images lack it.
command -v curl >/dev/null 2>&1 || need+=(curl)
# chattr: the update tests make a state directory that even root cannot write (chattr +i), to see a slot switch that
# cannot be saved (tests/EdgeRelay.Appliance.Tests/Update/ReadOnlyDirectory.cs).
command -v chattr >/dev/null 2>&1 || need+=(e2fsprogs)
# The arm64 binary under emulation (scripts/run-arm64.sh: qemu-user-static, and mmdebstrap for its sysroot) and
# the Debian package (scripts/package-deb.sh: lintian, fakeroot; tests/EdgeRelay.Tests/Packaging installs it
# into a fresh Debian 12 root that mmdebstrap makes from the configured mirror). The scripts install what they
# miss themselves; here it happens once, before the tests run in parallel.
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v fakeroot >/dev/null 2>&1 || need+=(fakeroot)
if [[ ${#need[@]} -gt 0 ]]; then
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    log "installing: ${need[*]}"
    $SUDO apt-get update -qq
    # Without systemd as PID 1 the maintainer scripts start services through /etc/init.d: nginx's
    # postinst would start a system nginx on port 80 (and coturn's or prometheus' theirs). A
    # policy-rc.d that exits 101 ("action forbidden") is Debian's way to keep them stopped. An existing
    # one (Docker images ship one) is put back afterwards, ours removed, also when apt fails.
    POLICY=/usr/sbin/policy-rc.d
    POLICY_SAVED="$POLICY.edgerelay-test-saved"
    $SUDO rm -f "$POLICY_SAVED"
    if [[ -e $POLICY ]]; then $SUDO mv "$POLICY" "$POLICY_SAVED"; fi
    restore_policy() {
        $SUDO rm -f "$POLICY"
        [[ ! -e $POLICY_SAVED ]] || $SUDO mv "$POLICY_SAVED" "$POLICY"
    }
    trap restore_policy EXIT
    printf '#!/bin/sh\n# scripts/test.sh: no service starts while it installs test tools\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    restore_policy
    trap - EXIT
fi

# --- the shipped binary: both targets must publish without a trim/AOT warning ----------------------
scripts/publish.sh linux-x64
scripts/publish.sh linux-arm64
export EDGERELAY_AOT_BINARY="$ROOT/artifacts/linux-x64/edgerelay"
# The arm64 binary runs in the suite under qemu-user (tests/EdgeRelay.Tests/Interop/NativeAotBinaryTests.cs):
# its arm64 sysroot is made once, before the tests.
scripts/run-arm64.sh --version

# --- the suite ---------------------------------------------------------------------------------------
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
set +e
dotnet test EdgeRelay.sln -c Release "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

passed=0; failed=0; skipped=0
while read -r f p s; do
    failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
done < <(grep -oE 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$LOG" | sed -E 's/[^0-9]+/ /g')

if [[ $((passed + failed)) -eq 0 ]]; then
    log "no test ran"
    status=1
fi

# --- the SD-card image: built from Debian's packages and booted under qemu-system-aarch64 -------------
# scripts/build-image.sh and scripts/test-image.sh (image/README.md): on two cores the build takes 20 to 35
# minutes and the three boots about 8, so it runs after the suite, alone, and only in a full run (no arguments).
# It counts as one test.
if [[ $# -eq 0 ]]; then
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    log "building and booting the SD-card image"
    if $SUDO scripts/build-image.sh && $SUDO scripts/test-image.sh; then
        passed=$((passed + 1))
    else
        log "FAILED: the SD-card image (scripts/build-image.sh, scripts/test-image.sh)"
        failed=$((failed + 1))
        status=1
    fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
