#!/bin/sh
# Writes the golden dumps in Snapshots/: every read model after replaying the sample
# history (EventSchemas/examples/history.ndjson), as `hindsight dump` prints it. Tests
# compare a fresh replay with these files; review the diff of a change before committing it.
set -eu
cd "$(dirname "$0")/.."
swift build --product hindsight >/dev/null
bin="$(swift build --show-bin-path)/hindsight"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
"$bin" append --data "$data" EventSchemas/examples/history.ndjson >/dev/null
names=$("$bin" query --data "$data" projections.status | python3 -c 'import json, sys; print(" ".join(m["name"] for m in json.load(sys.stdin)["readModels"]))')
for name in $names; do
    "$bin" dump --data "$data" "$name" > "Snapshots/$name.ndjson"
    echo "Snapshots/$name.ndjson"
done
