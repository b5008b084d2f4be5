#!/usr/bin/env bash
# The main job on a generated sample: install what is needed, build, append a realistic
# history of EVENTS (default 100000) to a fresh data directory, compact it, verify it, and
# print stats.
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
echo "== stats after appending (fast LZ4 chunks)"
"$hindsight" stats --data "$data"
echo "== compact (recompress at LZ4's highest level)"
"$hindsight" compact --data "$data"
echo "== verify"
"$hindsight" verify --data "$data"
echo "== stats"
"$hindsight" stats --data "$data"
echo "== the same history, read back with the stock lz4 tool (first two events)"
cat "$data"/segments/*.lz4 | lz4 -dc > "${data%/*}/stored.ndjson"
head -n 2 "${data%/*}/stored.ndjson"
echo "Data directory: $data"
