#!/usr/bin/env bash
# Side-by-side load benchmark: the same load against EdgeRelay (the Native AOT binary, once with each
# batched backend: io_uring and recvmmsg/sendmmsg) and against coturn (Debian's turnserver with
# equivalent settings), alternating A B C A B C, on loopback only. Prints one table with the ratios
# EdgeRelay/coturn. Figures are for reading, never for asserting.
#
#   scripts/bench.sh [--rounds N] [--duration SECONDS] [--big-allocations N]
#
# Each server is pinned to one core (taskset), the load generator (tests/EdgeRelay.Load) to the other.
# Relay ports are 10000-30000, below the kernel's ephemeral range, so that the load generator's own
# sockets never take a port the server wants to relay on.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ROUNDS=2
DURATION=10
BIG=10000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --big-allocations) BIG="$2"; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--duration SECONDS] [--big-allocations N]" >&2; exit 64 ;;
    esac
done

log() { echo "bench.sh: $*" >&2; }

# --- what it needs ------------------------------------------------------------------------------
if ! command -v turnserver >/dev/null 2>&1 || ! command -v taskset >/dev/null 2>&1; then
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends coturn util-linux >/dev/null
fi
[[ -x artifacts/linux-x64/edgerelay ]] || scripts/publish.sh linux-x64
dotnet build tests/EdgeRelay.Load -c Release -v quiet -nologo >/dev/null
LOAD="$ROOT/tests/EdgeRelay.Load/bin/Release/net10.0/edgerelay-load"
# 10,000 allocations need 10,000 sockets on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $((BIG + 1000)) ]]; then
    log "open files limited to $(ulimit -n): the big allocation count drops to $(( $(ulimit -n) / 2 - 500 ))"
    BIG=$(( $(ulimit -n) / 2 - 500 ))
fi

CPUS=$(nproc)
SERVER_CPU=$((CPUS - 1))
LOAD_CPU=0
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

USER_NAME=bench
PASSWORD="bench-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
PORT=34900

# Every load client comes from 127.0.0.1: the per-address challenge limit (limits.challengesPerSecondPerAddress,
# a guard against reflection and guessing from one source) is raised so that it does not pace the allocation rate.
start_edgerelay() { # backend
    cat > "$WORK/edgerelay.json" <<JSON
{ "realm": "bench.test", "listeners": [ { "transport": "udp", "endpoint": "127.0.0.1:$PORT" } ],
  "relay": { "address": "127.0.0.1", "portRange": "10000-30000" },
  "auth": { "users": { "$USER_NAME": "$PASSWORD" } }, "peers": { "allowLoopback": true }, "logLevel": "warning",
  "limits": { "maxAllocations": 100000, "maxAllocationsPerUser": 100000, "challengesPerSecondPerAddress": 100000 },
  "engine": { "backend": "$1" } }
JSON
    taskset -c "$SERVER_CPU" "$ROOT/artifacts/linux-x64/edgerelay" run --config "$WORK/edgerelay.json" > "$WORK/edgerelay.log" 2>&1 &
    SERVER_PID=$!
}
start_io_uring() { start_edgerelay io_uring; }
start_recvmmsg() { start_edgerelay recvmmsg; }

start_coturn() {
    # coturn's equivalent: long-term user, one relay thread, loopback peers allowed, nothing but UDP.
    taskset -c "$SERVER_CPU" turnserver -n --listening-ip=127.0.0.1 --listening-port="$PORT" --relay-ip=127.0.0.1 \
        --min-port=10000 --max-port=30000 --realm=bench.test --lt-cred-mech --user="$USER_NAME:$PASSWORD" \
        --no-tls --no-dtls --no-cli --no-tcp --allow-loopback-peers --relay-threads=1 --total-quota=100000 \
        --userdb="$WORK/turndb" --log-file=stdout --no-stdout-log > "$WORK/coturn.log" 2>&1 &
    SERVER_PID=$!
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    sleep 1
}

load() {
    taskset -c "$LOAD_CPU" "$LOAD" --server "127.0.0.1:$PORT" --user "$USER_NAME" --password "$PASSWORD" --server-pid "$SERVER_PID" "$@"
}

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

declare -A RESULT
measure() { # server name, round
    local name=$1 round=$2 line
    sleep 1
    RESULT[$name,idle,$round]=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    line=$(load --allocations 100 --rate 50 --size 100 --duration "$DURATION")
    RESULT[$name,cpu,$round]=$(field "$line" server_cpu_us_per_packet)
    RESULT[$name,p99,$round]=$(field "$line" rtt_p99_ms)
    RESULT[$name,paced_loss,$round]=$(field "$line" loss_pct)
    line=$(load --allocations 10 --rate 0 --window 16 --size 100 --duration "$DURATION")
    RESULT[$name,pps,$round]=$(field "$line" relayed_pps)
    RESULT[$name,sat_loss,$round]=$(field "$line" loss_pct)
    RESULT[$name,sat_cpu,$round]=$(field "$line" server_cpu_us_per_packet)
    line=$(load --allocations 1000 --rate 1 --size 100 --duration 2)
    RESULT[$name,rss1k,$round]=$(field "$line" rss_allocated_kb)
    RESULT[$name,allocs,$round]=$(field "$line" allocations_per_s)
    line=$(load --allocations "$BIG" --rate 1 --size 100 --duration 2) || line=""
    RESULT[$name,rssbig,$round]=$(field "$line" rss_allocated_kb)
    # coturn's own client as a second, independent load: 10 clients x 1000 messages, channel mode.
    local before after
    before=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    line=$(taskset -c "$LOAD_CPU" turnutils_uclient -u "$USER_NAME" -w "$PASSWORD" -p "$PORT" -e 127.0.0.1 -r 34999 \
        -m 10 -n 1000 -l 100 -z 1 127.0.0.1 2>&1 | grep -E "Total lost|Average round trip" | tr '\n' ' ')
    after=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    RESULT[$name,uc_loss,$round]=$(sed -E 's/.*Total lost packets [0-9]+ \(([0-9.]+)%\).*/\1/' <<<"$line")
    RESULT[$name,uc_rtt,$round]=$(sed -E 's/.*Average round trip delay ([0-9.]+) ms.*/\1/' <<<"$line")
    RESULT[$name,uc_cpu,$round]=$(awk -v t=$((after - before)) 'BEGIN { printf "%.2f", t / 100 }')
}

turnutils_peer -L 127.0.0.1 -p 34999 > "$WORK/peer.log" 2>&1 &
PEER_PID=$!
trap 'kill $PEER_PID 2>/dev/null; cleanup' EXIT

for round in $(seq 1 "$ROUNDS"); do
    for name in io_uring recvmmsg coturn; do
        log "round $round: $name"
        "start_$name"
        measure "$name" "$round"
        stop_server
    done
done

median() { # values...
    printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { # label, key, unit
    local u=() m=() c=() mu mm mc
    for round in $(seq 1 "$ROUNDS"); do
        u+=("${RESULT[io_uring,$2,$round]:-}"); m+=("${RESULT[recvmmsg,$2,$round]:-}"); c+=("${RESULT[coturn,$2,$round]:-}")
    done
    mu=$(median "${u[@]}"); mm=$(median "${m[@]}"); mc=$(median "${c[@]}")
    printf '| %-52s | %10s | %10s | %10s | %8s | %8s |\n' "$1 ($3)" "$mu" "$mm" "$mc" "$(ratio "$mu" "$mc")" "$(ratio "$mm" "$mc")"
}

echo
echo "EdgeRelay $("$ROOT/artifacts/linux-x64/edgerelay" --version | cut -d' ' -f2) vs $(turnserver --version 2>/dev/null | head -1 || echo coturn), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), servers pinned to CPU $SERVER_CPU, median of $ROUNDS rounds, $(date -u +%Y-%m-%d)"
echo
printf '| %-52s | %10s | %10s | %10s | %8s | %8s |\n' "metric" "io_uring" "recvmmsg" "coturn" "ratio u" "ratio m"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------------------------------" "------------" "------------" "------------" "----------" "----------"
row "relayed packets/s at saturation, 10 allocations" pps "pps"
row "loss at saturation" sat_loss "%"
row "server CPU per relayed packet at saturation" sat_cpu "µs"
row "server CPU per relayed packet, paced 100 x 50 pps" cpu "µs"
row "RTT p99, paced 100 x 50 pps" p99 "ms"
row "loss, paced 100 x 50 pps" paced_loss "%"
row "RSS idle" idle "kB"
row "RSS with 1,000 allocations" rss1k "kB"
row "RSS with $BIG allocations" rssbig "kB"
row "new allocations per second (one client, sequential)" allocs "1/s"
row "turnutils_uclient 10 x 1000: loss" uc_loss "%"
row "turnutils_uclient 10 x 1000: average RTT" uc_rtt "ms"
row "turnutils_uclient 10 x 1000: server CPU" uc_cpu "s"
