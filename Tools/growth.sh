#!/usr/bin/env bash
# How the costs of start-up, storage and read models grow: times the operations of the growth
# table in BENCHMARKS.md (peak memory too), median of RUNS (first builds and loads once).
#
#   swift build -c release --product hindsight && swift build -c release --product hindsight-generate
#   Tools/growth.sh DIR [RUNS]                  the rows on the log in DIR
#   Tools/growth.sh --sizes "N…" WORK [RUNS]    for each size N: generates N events (seed 7),
#                                               loads them into WORK/N with --batch-lines
#                                               100000 beside `lz4 -1` of the same file, then
#                                               the rows on that log
#
# The rows append events, and remove DIR's read models and snapshots to time first builds.
# Each time is the whole command, process start included (about 10 ms here).
set -euo pipefail
here="$(dirname "$0")/.."
h="$here/.build/release/hindsight"
generate="$here/.build/release/hindsight-generate"
times=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$times" "$scratch"' EXIT
# label, runs, command…: prints the label and the median "seconds peak-KB"
t() {
    local label=$1 n=$2
    shift 2
    for _ in $(seq 1 "$n"); do
        /usr/bin/time -f "%e %M" "$@" > /dev/null 2>> "$times"
        tail -1 "$times"
    done | sort -n | awk -v l="$label" '{a[NR]=$0} END {print l ": " a[int((NR+1)/2)] " (s, KB)"}'
}
# One new event of a stream of its own, in $scratch/one.ndjson; prints the stream.
one_event() {
    python3 - "$scratch/one.ndjson" <<'EOF'
import sys, uuid
stream = f"team/team_growth_{uuid.uuid4().hex[:12]}"
with open(sys.argv[1], "w") as out:
    out.write('{"id":"%s","type":"team.created","stream":"%s","occurredAt":"2026-03-01T00:00:00.000Z",'
              '"actor":{"kind":"user","id":"usr_1_1"},"org":"org_1","data":{"team":"team_growth","name":"Growth"}}\n'
              % (uuid.uuid4(), stream))
print(stream)
EOF
}
# serve's first answer: seconds from start to the log.stats response, and peak KB.
serve_first() {
    python3 - "$h" "$1" <<'EOF'
import resource, subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen([sys.argv[1], "serve", "--data", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
p.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"log.stats"}\n')
p.stdin.flush()
p.stdout.readline()
elapsed = time.monotonic() - start
p.stdin.close()
p.wait()
print(f"{elapsed:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
EOF
}

rows() {
    local d=$1 runs=$2
    echo "== $("$h" query --data "$d" log.stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["events"], "events,", s["storedBytes"], "bytes stored")')"
    local half
    half=$("$h" query --data "$d" log.stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]//2)')
    local stream
    for _ in $(seq 1 "$runs"); do
        stream=$(one_event)
        /usr/bin/time -f "%e %M" "$h" append --data "$d" "$scratch/one.ndjson" > /dev/null 2>> "$times"
        tail -1 "$times"
    done | sort -n | awk '{a[NR]=$0} END {print "append one event: " a[int((NR+1)/2)] " (s, KB)"}'
    stream=$(one_event)
    "$h" append --data "$d" "$scratch/one.ndjson" > /dev/null
    for _ in $(seq 1 "$runs"); do serve_first "$d"; done | sort -n |
        awk '{a[NR]=$0} END {print "serve, first log.stats answer: " a[int((NR+1)/2)] " (s, KB)"}'
    t "read a one-event stream" "$runs" "$h" read --data "$d" --stream "$stream"
    t "proof of the event at half" "$runs" "$h" proof --data "$d" "$half"
    t "consistency proof from half" "$runs" "$h" consistency --data "$d" "$half"
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
    local day
    day=$("$h" read --data "$d" --from "$half" --to "$half" | python3 -c 'import datetime as d, json, sys
t = d.datetime.fromisoformat(json.loads(sys.stdin.readline())["occurredAt"].replace("Z", "+00:00"))
print((t - d.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
    t "analytics.functions at half, from the day before it" "$runs" "$h" query --data "$d" analytics.functions --params "{\"org\":\"org_1\",\"at\":$half,\"from\":\"$day\"}"
    rm -rf "$d/projections" "$d/snapshots"
    # A snapshot catches every model up first (built together, in one pass), then copies the one named.
    t "first build of every read model (snapshot webhooks)" 1 "$h" snapshot --data "$d" webhooks
    echo "read models on disk: $(du -cb "$d"/projections/*.gen*.sqlite | tail -1 | cut -f1) bytes; the writer's index (with the tree's levels): $(du -sb "$d/index" | cut -f1) bytes"
    # A checkpoint, 100,000 more events, then a verification of those alone.
    "$h" keys init --name growth.example/log --key "$scratch/signing.key" > "$scratch/public"
    "$h" checkpoint --data "$d" --key "$scratch/signing.key" > /dev/null
    "$generate" --events 100000 --seed "$RANDOM" > "$scratch/more.ndjson"
    "$h" append --data "$d" "$scratch/more.ndjson" > /dev/null
    t "verify the last 100,000 events from a signed checkpoint" "$runs" "$h" verify --data "$d" --since-checkpoint "$(cat "$scratch/public")"
    rm -f "$scratch/signing.key"
}

if [ "$1" = "--sizes" ]; then
    sizes=$2
    work=$3
    runs=${4:-3}
    mkdir -p "$work"
    for n in $sizes; do
        "$generate" --events "$n" --seed 7 > "$scratch/load.ndjson"
        rm -rf "${work:?}/$n"
        t "load $n events with --batch-lines 100000" 1 "$h" append --data "$work/$n" --batch-lines 100000 "$scratch/load.ndjson"
        t "lz4 -1 of the same file (baseline)" 1 lz4 -1 -q -f "$scratch/load.ndjson" "$scratch/load.lz4"
        rm -f "$scratch/load.ndjson" "$scratch/load.lz4"
        rows "$work/$n" "$runs"
    done
else
    rows "$1" "${2:-3}"
fi
