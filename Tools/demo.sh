#!/usr/bin/env bash
# The main job on a generated sample: install what is needed, build, append a realistic
# history of EVENTS (default 100000) to a fresh data directory, verify it, print stats.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-100000}"
Tools/setup.sh
swift build -c release --product hindsight
hindsight=.build/release/hindsight
data="$(mktemp -d)/hindsight-data"
"$hindsight" generate --events "$events" --seed 7 > "${data%/*}/history.ndjson"
echo "== append $events events"
"$hindsight" append --data "$data" "${data%/*}/history.ndjson"
echo "== verify"
"$hindsight" verify --data "$data"
echo "== stats"
"$hindsight" stats --data "$data"
echo "== the same history, read back with the stock lz4 tool (first two events)"
cat "$data"/segments/*.lz4 | lz4 -dc | head -n 2
echo "Data directory: $data"
