#!/usr/bin/env bash
# Coverage-guided fuzzing of one target with AFL++ and SharpFuzz (issue 8):
#
#   scripts/fuzz.sh TARGET SECONDS      TARGET: stun | channeldata | stream | turn
#
# Installs what it needs (afl++ from Debian, the sharpfuzz tool into artifacts/fuzz/tools), builds
# tests/EdgeRelay.Fuzz, instruments the EdgeRelay assemblies of the build, and runs afl-fuzz on one core
# for SECONDS, starting from the seed corpus tests/EdgeRelay.Fuzz/corpus/TARGET. At the end it prints
# executions, exec/s, corpus size, crashes and hangs, and copies every crash and hang input to
# artifacts/fuzz/findings/TARGET. AFL++'s own output stays in artifacts/fuzz/TARGET for afl-cmin/afl-tmin.
# Run one at a time: each takes a core. A crash is fixed, then kept as a regression input under
# tests/EdgeRelay.Fuzz/regressions/TARGET, which the suite replays (tests/EdgeRelay.Fuzz.Tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET="${1:?usage: scripts/fuzz.sh stun|channeldata|stream|turn SECONDS}"
SECONDS_TO_RUN="${2:?usage: scripts/fuzz.sh TARGET SECONDS}"
case "$TARGET" in stun|channeldata|stream|turn) ;; *) echo "fuzz.sh: unknown target $TARGET" >&2; exit 2 ;; esac

log() { echo "fuzz.sh: $*" >&2; }
SHARPFUZZ_VERSION=2.3.0
WORK="$ROOT/artifacts/fuzz"
TOOLS="$WORK/tools"
OUT="$WORK/$TARGET"
FINDINGS="$WORK/findings/$TARGET"
BUILD="$WORK/build"

if ! command -v afl-fuzz >/dev/null 2>&1; then
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    log "installing afl++"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends afl++ >/dev/null
fi
if [[ ! -x "$TOOLS/sharpfuzz" ]]; then
    log "installing SharpFuzz.CommandLine $SHARPFUZZ_VERSION"
    dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$TOOLS" >/dev/null
fi

# A build of its own: instrumenting rewrites the assemblies in place, and those must never reach a test run.
log "building"
rm -rf "$BUILD"
dotnet build tests/EdgeRelay.Fuzz -c Release -o "$BUILD" -nologo -v q >/dev/null
for assembly in EdgeRelay.Stun EdgeRelay.Net EdgeRelay.Turn; do
    "$TOOLS/sharpfuzz" "$BUILD/$assembly.dll" >/dev/null
done

rm -rf "$OUT"
mkdir -p "$OUT" "$FINDINGS"
SEEDS=$(find "tests/EdgeRelay.Fuzz/corpus/$TARGET" -type f | wc -l)
# In a container as root: no CPU governor to check, no core dump pipe to care about, no affinity to set
# (the machine is shared). SharpFuzz feeds AFL++ its own coverage, so the binary check is skipped.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1
export AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=60000
# -t: .NET start-up and the first JIT of each path take far longer than one input; hangs are judged at 2 s.
log "fuzzing $TARGET for ${SECONDS_TO_RUN}s"
set +e
afl-fuzz -V "$SECONDS_TO_RUN" -t 2000 -m none -i "tests/EdgeRelay.Fuzz/corpus/$TARGET" -o "$OUT" \
    -x "tests/EdgeRelay.Fuzz/stun.dict" \
    -- dotnet "$BUILD/edgerelay-fuzz.dll" "$TARGET" > "$OUT.log" 2>&1
status=$?
set -e
if [[ $status -ne 0 ]]; then
    tail -40 "$OUT.log" >&2
    log "afl-fuzz exited $status"
fi

STATS="$OUT/default/fuzzer_stats"
[[ -f $STATS ]] || { log "no fuzzer_stats"; exit 1; }
stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$STATS"; }
crashes=0; hangs=0
for kind in crashes hangs; do
    for f in "$OUT/default/$kind"/id:*; do
        [[ -e $f ]] || continue
        cp "$f" "$FINDINGS/$kind-$(sha1sum "$f" | cut -c1-12)"
        if [[ $kind == crashes ]]; then crashes=$((crashes + 1)); else hangs=$((hangs + 1)); fi
    done
done
echo "target $TARGET: run $(( $(stat last_update) - $(stat start_time) ))s, $(stat execs_done) executions, $(stat execs_per_sec) exec/s," \
     "corpus $(stat corpus_count) (seeds $SEEDS), stability $(stat stability)," \
     "$crashes crashes, $hangs hangs (saved: $(stat saved_crashes) crashes, $(stat saved_hangs) hangs)"
[[ $((crashes + hangs)) -eq 0 ]] || log "inputs copied to $FINDINGS"
