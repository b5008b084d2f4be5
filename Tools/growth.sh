#!/usr/bin/env bash
# How the costs of start-up, storage and read models grow: times the operations of the growth
# table in BENCHMARKS.md on the log in DIR (peak memory too), median of RUNS (first builds once).
# It removes DIR's read models and snapshots to time first builds.
#   swift build -c release --product hindsight
#   Tools/growth.sh DIR [RUNS]
set -euo pipefail
d=$1
runs=${2:-3}
h="$(dirname "$0")/../.build/release/hindsight"
times=$(mktemp)
trap 'rm -f "$times"' EXIT
# label, runs, command…: prints the label and the median "seconds peak-KB"
t() {
    local label=$1 n=$2
    shift 2
    for _ in $(seq 1 "$n"); do
        /usr/bin/time -f "%e %M" "$@" > /dev/null 2>> "$times"
        tail -1 "$times"
    done | sort -n | awk -v l="$label" '{a[NR]=$0} END {print l ": " a[int((NR+1)/2)] " (s, KB)"}'
}
half=$("$h" query --data "$d" log.stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]//2)')
t "verify (baseline)" "$runs" "$h" verify --data "$d"
t "query log.stats" "$runs" "$h" query --data "$d" log.stats
t "query log.stats at half" "$runs" "$h" query --data "$d" log.stats --params "{\"at\":$half}"
rm -rf "$d/projections" "$d/snapshots"
t "first audit.search (builds audit)" 1 "$h" query --data "$d" audit.search --params '{"limit":10}'
t "first analytics.builds (builds the builds model)" 1 "$h" query --data "$d" analytics.builds --params '{"org":"org_1"}'
t "projections.status" "$runs" "$h" query --data "$d" projections.status
t "audit.search limit 10, built" "$runs" "$h" query --data "$d" audit.search --params '{"limit":10}'
t "first analytics.functions (builds functions)" 1 "$h" query --data "$d" analytics.functions --params '{"org":"org_1"}'
t "analytics.functions at half (fold from the log)" "$runs" "$h" query --data "$d" analytics.functions --params "{\"org\":\"org_1\",\"at\":$half}"
day=$("$h" read --data "$d" --from "$half" --to "$half" | python3 -c 'import datetime as d, json, sys
t = d.datetime.fromisoformat(json.loads(sys.stdin.readline())["occurredAt"].replace("Z", "+00:00"))
print((t - d.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
t "analytics.functions at half, from the day before it" "$runs" "$h" query --data "$d" analytics.functions --params "{\"org\":\"org_1\",\"at\":$half,\"from\":\"$day\"}"
rm -rf "$d/projections" "$d/snapshots"
# A snapshot catches every model up first (built together, in one pass), then copies the one named.
t "first build of every read model (snapshot webhooks)" 1 "$h" snapshot --data "$d" webhooks
