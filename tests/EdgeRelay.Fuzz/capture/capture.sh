#!/usr/bin/env bash
# Re-captures the seed corpus from real clients (how tests/EdgeRelay.Fuzz/corpus was made):
#
#   tests/EdgeRelay.Fuzz/capture/capture.sh OUT_DIR
#
# 1. turnutils_uclient (coturn) against the relay binary on 127.0.0.1:13478 (UDP and TCP, realm
#    edgerelay.test, user alice, the TURN REST secret of the fuzz harness), in the modes the interop tests
#    use and a few more: channels, Send indications, TCP, TURN REST, a wrong password, client-to-client,
#    IPv6 and dual allocations, extra requests, mobility, and turnutils_stunclient; tcpdump records loopback port 13478.
# 2. Chromium: the browser test TwoPeersThroughTheRelayTests (UDP, TCP and TLS to the relay, two peer
#    connections through it) under tcpdump on all loopback traffic; the relay's ports are found by
#    extract.py as the ports Allocate requests went to. Its relay uses the same realm and user.
# extract.py turns each capture into OUT_DIR/{stun,channeldata,stream,turn}. The corpus in the repository is
# a hand-picked part of that: every uclient file, and of Chromium's the STUN shapes, the ChannelData, the
# two complete TURN sessions plus one bare Allocate probe per transport, and the longest streams.
# Needs root (tcpdump), coturn, tcpdump, chromium, and artifacts/linux-x64/edgerelay (scripts/publish.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
OUT="$(realpath -m "${1:?usage: capture.sh OUT_DIR}")"
HERE="$ROOT/tests/EdgeRelay.Fuzz/capture"
RELAY="$ROOT/artifacts/linux-x64/edgerelay"
[[ -x $RELAY ]] || "$ROOT/scripts/publish.sh" linux-x64
WORK="$(mktemp -d)"
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
PIDS=()
trap cleanup EXIT

cat > "$WORK/relay.json" <<JSON
{
  "realm": "edgerelay.test",
  "listeners": [
    { "transport": "udp", "endpoint": "127.0.0.1:13478" },
    { "transport": "tcp", "endpoint": "127.0.0.1:13478" }
  ],
  "relay": { "address": "127.0.0.1", "portRange": "50000-50999" },
  "auth": { "users": { "alice": "correct horse battery staple" }, "sharedSecrets": ["rest-api-secret"] },
  "peers": { "allowLoopback": true },
  "stateDirectory": "$WORK/state"
}
JSON
"$RELAY" run --config "$WORK/relay.json" > "$WORK/relay.log" 2>&1 & PIDS+=($!)
sleep 2
tcpdump -i lo -w "$WORK/uclient.pcap" -s 0 'port 13478' 2> "$WORK/tcpdump.log" & TCPDUMP=$!; PIDS+=($TCPDUMP)
turnutils_peer -L 127.0.0.1 -p 13500 > /dev/null 2>&1 & PIDS+=($!)
sleep 1
PW='correct horse battery staple'
uclient() { timeout 20 turnutils_uclient -p 13478 -n 5 -m 1 -l 120 "$@" 127.0.0.1 >> "$WORK/uclient.log" 2>&1 || true; }
PEER=(-e 127.0.0.1 -r 13500)
uclient -u alice -w "$PW" "${PEER[@]}"             # UDP, channels
uclient -s -u alice -w "$PW" "${PEER[@]}"          # UDP, Send indications
uclient -t -u alice -w "$PW" "${PEER[@]}"          # TCP, channels
uclient -t -s -u alice -w "$PW" "${PEER[@]}"       # TCP, Send indications
uclient -W rest-api-secret -u webapp-user "${PEER[@]}"   # TURN REST credentials
uclient -u alice -w "wrong password" "${PEER[@]}"  # 401 after 401
uclient -u alice -w "$PW" -y                       # client to client
uclient -u alice -w "$PW" "${PEER[@]}" -c -x       # no RTCP, IPv6 relay requested (440: the relay has none)
uclient -u alice -w "$PW" "${PEER[@]}" -Z          # dual allocation (ADDITIONAL-ADDRESS-FAMILY)
uclient -u alice -w "$PW" "${PEER[@]}" -G          # extra CreatePermission and ChannelBind requests
uclient -t -u alice -w "$PW" "${PEER[@]}" -M       # ICE mobility (MOBILITY-TICKET)
timeout 10 turnutils_stunclient -p 13478 127.0.0.1 >> "$WORK/uclient.log" 2>&1 || true
sleep 1
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
python3 "$HERE/extract.py" "$WORK/uclient.pcap" 13478 "$OUT" uclient

tcpdump -i lo -w "$WORK/chromium.pcap" -s 0 'udp or tcp' 2> "$WORK/tcpdump.log" & TCPDUMP=$!; PIDS+=($TCPDUMP)
sleep 1
dotnet test "$ROOT/tests/EdgeRelay.Browser.Tests" -c Release --filter "FullyQualifiedName~Chromium_connects_two_peers_only_through_the_relay" > "$WORK/chromium.log" 2>&1 || true
sleep 1
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
python3 "$HERE/extract.py" "$WORK/chromium.pcap" 0 "$OUT" chromium
echo "capture.sh: corpus written to $OUT"
