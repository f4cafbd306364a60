#!/usr/bin/env bash
# The run command of the README: builds and runs the relay from source.
#
#   scripts/run.sh                      the development default: TURN on udp/3478 with a generated
#                                       credential, printed with a ready-to-paste iceServers entry
#   scripts/run.sh --config FILE        a real configuration (see README)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec dotnet run --project "$ROOT/src/EdgeRelay" -c Release -- run "$@"
