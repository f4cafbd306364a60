#!/usr/bin/env bash
# Soak test: the Native AOT relay on loopback under steady allocation churn with traffic, for MINUTES.
#
#   scripts/soak.sh MINUTES [--allocations N] [--lifetime SECONDS] [--rate PPS] [--vanish PERCENT]
#                           [--tcp PERCENT] [--port PORT]
#
# The churn (tests/EdgeRelay.Load --churn) keeps about N allocations in flight (default 100): each is
# created (Allocate with long-term credentials, ChannelBind to a UDP echo peer), carries --rate ChannelData
# packets per second (default 20) for 0.5-1.5 x --lifetime seconds (default 10) and is then released with
# Refresh LIFETIME 0; --vanish percent of the clients (default 5) close their socket without a word, so the
# relay must expire their allocations (after the default lifetime of 600 s: limits.maxLifetimeSeconds
# cannot go below 600). --tcp percent of the clients (default 20) talk to the relay over TCP (UDP relayed
# addresses, ChannelData on the stream); one of those that vanishes closes its connection, which ends its
# allocation at once. New allocations come at N / lifetime per second: 10/s, 36,000 an hour, by default.
#
# Every minute it prints one line: RSS (VmRSS), open descriptors (/proc/PID/fd), allocations,
# allocations created so far and packets relayed (the relay's /metrics), and the churn's loss. At the end
# it judges, and exits 1 when a rule fails (the rules are printed with the summary):
#   - the relay ran to the end, and the churn finished cleanly;
#   - levelling (runs of 6 minutes or more; the first third is warm-up): the peak RSS of the last third
#     exceeds the peak of the middle third by at most max(4 MB, 10 %); the peak of "spare" descriptors
#     (descriptors minus allocations minus TCP connections: each owns one socket) by at most 5;
#   - allocations stay below what the load explains: 1.25 x (in flight + vanished clients' allocations
#     that may still live), also after the churn has released its own;
#   - loss of the churn's traffic at most 0.5 %, failed allocations at most 0.5 % of those created.
# Runs shorter than 6 minutes check the mechanics and the other rules only.
#
# Environment: EDGERELAY_AOT_BINARY (use this binary instead of artifacts/linux-x64/edgerelay, which is
# published when missing or older than src/), SOAK_KEEP=1 keeps the work directory with the logs,
# SOAK_MINUTE_SECONDS (default 60) shortens the "minute" for the suite's smoke test of the mechanics.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
    echo "usage: $0 MINUTES [--allocations N] [--lifetime SECONDS] [--rate PPS] [--vanish PERCENT] [--tcp PERCENT] [--port PORT]" >&2
    exit 64
}
[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -ge 1 ]] || usage
MINUTES=$1
shift
ALLOCATIONS=100
LIFETIME=10
RATE=20
VANISH=5
TCP=20
PORT=34970
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case "$1" in
        --allocations) ALLOCATIONS=$2 ;;
        --lifetime) LIFETIME=$2 ;;
        --rate) RATE=$2 ;;
        --vanish) VANISH=$2 ;;
        --tcp) TCP=$2 ;;
        --port) PORT=$2 ;;
        *) usage ;;
    esac
    shift 2
done
STATUS_PORT=$((PORT + 1))
# The default allocation lifetime: what a vanished client's allocation lives (RFC 8656 §6.2).
EXPIRY=600
MINUTE=${SOAK_MINUTE_SECONDS:-60}
[[ $MINUTE =~ ^[0-9]+$ && $MINUTE -ge 1 ]] || usage

log() { echo "soak.sh: $*" >&2; }

# --- what it needs ------------------------------------------------------------------------------
if ! command -v curl >/dev/null 2>&1; then
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends curl >/dev/null
fi
BIN="${EDGERELAY_AOT_BINARY:-$ROOT/artifacts/linux-x64/edgerelay}"
if [[ -z "${EDGERELAY_AOT_BINARY:-}" ]]; then
    if [[ ! -x "$BIN" ]] || [[ -n "$(find src Directory.Build.props Directory.Packages.props \( -name bin -o -name obj \) -prune \
            -o -type f -newer "$BIN" -print -quit)" ]]; then
        log "publishing the AOT binary"
        scripts/publish.sh linux-x64 >&2
    fi
fi
dotnet build tests/EdgeRelay.Load -c Release -v quiet -nologo >/dev/null
LOAD="$ROOT/tests/EdgeRelay.Load/bin/Release/net10.0/edgerelay-load"

WORK="$(mktemp -d -t edgerelay-soak.XXXXXX)"
RELAY_PID=""
CHURN_PID=""
cleanup() {
    local status=$?
    [[ -n "$CHURN_PID" ]] && kill "$CHURN_PID" 2>/dev/null || true
    [[ -n "$RELAY_PID" ]] && kill "$RELAY_PID" 2>/dev/null || true
    [[ -n "$CHURN_PID" ]] && wait "$CHURN_PID" 2>/dev/null || true
    [[ -n "$RELAY_PID" ]] && wait "$RELAY_PID" 2>/dev/null || true
    if [[ "${SOAK_KEEP:-0}" == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the relay ------------------------------------------------------------------------------------
USER_NAME=soak
PASSWORD="soak-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
cat > "$WORK/edgerelay.json" <<JSON
{ "realm": "soak.test",
  "listeners": [ { "transport": "udp", "endpoint": "127.0.0.1:$PORT" }, { "transport": "tcp", "endpoint": "127.0.0.1:$PORT" } ],
  "relay": { "address": "127.0.0.1", "portRange": "10000-30000" },
  "auth": { "users": { "$USER_NAME": "$PASSWORD" } },
  "peers": { "allowLoopback": true },
  "limits": { "maxAllocations": 100000, "maxAllocationsPerUser": 100000, "maxLifetimeSeconds": $EXPIRY,
              "maxConnections": 100000, "maxConnectionsPerAddress": 100000 },
  "status": { "endpoint": "127.0.0.1:$STATUS_PORT" },
  "stateDirectory": "$WORK/state",
  "logLevel": "warning" }
JSON
"$BIN" run --config "$WORK/edgerelay.json" > "$WORK/edgerelay.log" 2>&1 &
RELAY_PID=$!
METRICS_URL="http://127.0.0.1:$STATUS_PORT/metrics"
for _ in $(seq 1 100); do
    curl -sf --max-time 2 "$METRICS_URL" >/dev/null 2>&1 && break
    kill -0 "$RELAY_PID" 2>/dev/null || { log "the relay exited at start:"; cat "$WORK/edgerelay.log" >&2; exit 1; }
    sleep 0.1
done

# --- sampling -------------------------------------------------------------------------------------
# One sample: the metrics first, the descriptors right after, so that "spare" descriptors are not skewed
# by the churn between the two reads. Spare: descriptors minus allocations (each owns one relay socket)
# minus TCP connections (each its own socket): what is left is the listeners, event loops, the status
# page, the log, and whatever leaks.
S_RSS=0 S_FDS=0 S_SPARE=0 S_ALLOC=0 S_CREATED=0 S_RELAYED=0 S_LOSS=0 S_FAILED=0 S_ACTIVE=0 S_CHURN_CREATED=0
sample() {
    local metrics churn
    metrics=$(curl -sf --max-time 10 "$METRICS_URL") || { log "the status page did not answer"; return 1; }
    S_FDS=$(find "/proc/$RELAY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    S_RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$RELAY_PID/status" 2>/dev/null) || return 1
    S_ALLOC=$(awk '/^edgerelay_allocations\{/ { s += $2 } END { print s + 0 }' <<<"$metrics")
    S_SPARE=$((S_FDS - S_ALLOC - $(awk '/^edgerelay_stream_connections[{ ]/ { s += $NF } END { print s + 0 }' <<<"$metrics")))
    S_CREATED=$(awk '/^edgerelay_allocations_created_total / { print $2 + 0 }' <<<"$metrics")
    S_RELAYED=$(awk '/^edgerelay_relayed_packets_total\{/ { s += $2 } END { printf "%.0f", s }' <<<"$metrics")
    churn=$(grep '^churn=' "$WORK/churn.out" 2>/dev/null | tail -1 || true)
    S_LOSS=$(churn_field "$churn" loss_pct 0)
    S_FAILED=$(churn_field "$churn" failed 0)
    S_ACTIVE=$(churn_field "$churn" active 0)
    S_CHURN_CREATED=$(churn_field "$churn" created 0)
}
churn_field() { # line, key, default
    local v
    v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p")
    echo "${v:-$3}"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

declare -a RSS FDS SPARE ALLOC
row() { # label
    printf '%6s %8s %5s %11s %9s %9s %15s %8s\n' "$1" "$(mb "$S_RSS")" "$S_FDS" "$S_ALLOC" "$S_SPARE" \
        "$S_CREATED" "$S_RELAYED" "$S_LOSS"
}

VERSION=$("$BIN" --version 2>/dev/null || echo edgerelay)
echo "soak: $VERSION, $MINUTES min$([[ $MINUTE == 60 ]] || echo " of $MINUTE s"), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo "churn: ~$ALLOCATIONS allocations in flight ($TCP % of the clients on TCP), each ${LIFETIME} s (x0.5-1.5) at $RATE pps of 100 B, $(awk -v a="$ALLOCATIONS" -v l="$LIFETIME" 'BEGIN { printf "%.1f", a / l }') new/s, $VANISH % vanish (expire after $EXPIRY s)"
printf '%6s %8s %5s %11s %9s %9s %15s %8s\n' minute rss_mb fds allocations spare_fds created relayed_packets loss_pct
sample
row 0
RSS[0]=$S_RSS FDS[0]=$S_FDS SPARE[0]=$S_SPARE ALLOC[0]=$S_ALLOC

# --- the churn ------------------------------------------------------------------------------------
# It runs a little past the last sample, then releases what it holds and prints its final line.
"$LOAD" --churn --server "127.0.0.1:$PORT" --user "$USER_NAME" --password "$PASSWORD" \
    --allocations "$ALLOCATIONS" --lifetime "$LIFETIME" --rate "$RATE" --size 100 --vanish "$VANISH" --tcp "$TCP" \
    --duration $((MINUTES * MINUTE + 5)) --report 10 > "$WORK/churn.out" 2> "$WORK/churn.err" &
CHURN_PID=$!
START=$SECONDS
DIED=""
for m in $(seq 1 "$MINUTES"); do
    wait_s=$((START + m * MINUTE - SECONDS))
    if [[ $wait_s -gt 0 ]]; then sleep "$wait_s" & wait $!; fi
    if ! kill -0 "$RELAY_PID" 2>/dev/null; then DIED="the relay exited during minute $m"; break; fi
    if ! kill -0 "$CHURN_PID" 2>/dev/null; then DIED="the churn exited early during minute $m"; break; fi
    sample || { DIED="no sample in minute $m"; break; }
    row "$m"
    RSS[m]=$S_RSS FDS[m]=$S_FDS SPARE[m]=$S_SPARE ALLOC[m]=$S_ALLOC
done

CHURN_STATUS=0
if [[ -z "$DIED" ]]; then
    wait "$CHURN_PID" || CHURN_STATUS=$?
    CHURN_PID=""
    sleep 2 # the releases' last answers, and the end of their allocations' bookkeeping
    if kill -0 "$RELAY_PID" 2>/dev/null && sample; then
        row after
        AFTER_ALLOC=$S_ALLOC
    else
        DIED="the relay exited after the churn"
    fi
fi
FINAL=$(grep '^churn=done' "$WORK/churn.out" | tail -1 || true)

# --- the verdict ----------------------------------------------------------------------------------
FAILS=0
verdict() { # ok(0/1), rule, figures
    local mark=pass
    if [[ $1 != 1 ]]; then mark=FAIL; FAILS=$((FAILS + 1)); fi
    printf '| %-4s | %-64s | %-52s |\n' "$mark" "$2" "$3"
}
peak() { # array name, from, to
    local -n a=$1
    local i p=0
    for ((i = $2; i <= $3; i++)); do [[ -n "${a[i]:-}" && ${a[i]} -gt $p ]] && p=${a[i]}; done
    echo "$p"
}

echo
echo "summary ($MINUTES min):"
printf '| %-4s | %-64s | %-52s |\n' "" "rule" "figures"
printf '|%s|%s|%s|\n' "------" "------------------------------------------------------------------" "------------------------------------------------------"
if [[ -n "$DIED" ]]; then
    verdict 0 "the relay and the churn run to the end" "$DIED"
    log "the relay's log:"; tail -20 "$WORK/edgerelay.log" >&2
    log "the churn's errors:"; tail -20 "$WORK/churn.err" >&2
    exit 1
fi
verdict "$([[ $CHURN_STATUS == 0 && -n "$FINAL" ]] && echo 1 || echo 0)" "the relay and the churn run to the end" "churn exit $CHURN_STATUS"

created=$(churn_field "$FINAL" created 0)
failed=$(churn_field "$FINAL" failed 0)
release_failures=$(churn_field "$FINAL" release_failures 0)
vanished=$(churn_field "$FINAL" vanished 0)
sent=$(churn_field "$FINAL" sent 0)
lost=$(churn_field "$FINAL" lost 0)
loss=$(churn_field "$FINAL" loss_pct 0)
verdict "$(awk -v l="$loss" -v s="$sent" 'BEGIN { print (s > 0 && l <= 0.5) ? 1 : 0 }')" \
    "traffic loss <= 0.5 %" "$lost of $sent packets lost ($loss %)"
verdict "$(awk -v f="$((failed + release_failures))" -v c="$created" 'BEGIN { print (c > 0 && f <= c * 0.005) ? 1 : 0 }')" \
    "failed allocations and releases <= 0.5 % of created" "$created created, $failed failed, $release_failures releases unanswered"

# In flight: a new one every lifetime/N s, each living lifetime + 1 s (grace for late echoes) on average.
# Vanished: at most rate x vanish share x (expiry + 60 s for the expiry timer's granularity) at once.
ceiling=$(awk -v n="$ALLOCATIONS" -v l="$LIFETIME" -v v="$VANISH" -v e="$EXPIRY" -v m="$((MINUTES * MINUTE))" 'BEGIN {
    r = n / l; t = m; if (t > e + 60) t = e + 60
    printf "%d", 1.25 * (r * (l + 1) + r * v / 100 * t) + 10 }')
alloc_peak=$(peak ALLOC 0 "$MINUTES")
verdict "$([[ $alloc_peak -le $ceiling && $AFTER_ALLOC -le $ceiling ]] && echo 1 || echo 0)" \
    "allocations bounded by what the load explains (<= $ceiling)" "peak $alloc_peak, after the churn $AFTER_ALLOC ($vanished vanished)"

if [[ $MINUTES -ge 6 ]]; then
    m1=$((MINUTES / 3 + 1)) m2=$((2 * MINUTES / 3)) l1=$((2 * MINUTES / 3 + 1))
    rss_mid=$(peak RSS "$m1" "$m2") rss_last=$(peak RSS "$l1" "$MINUTES")
    rss_allowed=$(awk -v p="$rss_mid" 'BEGIN { a = p * 0.10; if (a < 4096) a = 4096; printf "%d", a }')
    verdict "$([[ $((rss_last - rss_mid)) -le $rss_allowed ]] && echo 1 || echo 0)" \
        "RSS levels off: peak of min $l1-$MINUTES <= peak of min $m1-$m2 + $(mb "$rss_allowed") MB" \
        "$(mb "$rss_mid") MB -> $(mb "$rss_last") MB ($(awk -v d="$((rss_last - rss_mid))" 'BEGIN { printf "%+.1f", d / 1024 }') MB)"
    spare_mid=$(peak SPARE "$m1" "$m2") spare_last=$(peak SPARE "$l1" "$MINUTES")
    verdict "$([[ $((spare_last - spare_mid)) -le 5 ]] && echo 1 || echo 0)" \
        "descriptors level off: spare peak of min $l1-$MINUTES <= min $m1-$m2 + 5" \
        "$spare_mid -> $spare_last spare; all descriptors peak $(peak FDS "$m1" "$m2") -> $(peak FDS "$l1" "$MINUTES")"
else
    echo "| --   | levelling not judged: a run shorter than 6 minutes has no middle and last third to compare |"
fi
echo
echo "churn's totals: ${FINAL#churn=done }"
if [[ $FAILS -gt 0 ]]; then
    echo "soak: FAILED ($FAILS rules)"
    exit 1
fi
echo "soak: passed"
