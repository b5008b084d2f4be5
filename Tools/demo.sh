#!/usr/bin/env bash
# The main job on a generated sample: install what is needed, build, append a realistic
# history of EVENTS (default 100000) to a fresh data directory, compact it, verify it, and
# print stats. Then the sample history of EventSchemas/: the questions people ask of it (who
# can deploy and why, what someone could do on a past date, what happened, how builds went,
# stale tokens and overdue backups), a signed export checked by the independent verifier, a
# story that ends with a person's erasure, and what the engine refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-100000}"
Tools/setup.sh
swift build -c release --product hindsight
swift build -c release --product hindsight-generate
hindsight=.build/release/hindsight
data="$(mktemp -d)/hindsight-data"
.build/release/hindsight-generate --events "$events" --seed 7 > "${data%/*}/history.ndjson"
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

story="${data%/*}/story-data"
echo
echo "== the sample history (EventSchemas/examples/history.ndjson), which ends with Erin's erasure"
"$hindsight" append --data "$story" EventSchemas/examples/history.ndjson
echo "== who can deploy the checkout project, and through which grant"
"$hindsight" who-can --data "$story" project:deploy project/prj_checkout
echo "== could Erin deploy the storefront on 5 March, and why? (and on 12 March, once her grant had expired)"
"$hindsight" check --data "$story" usr_erin project:deploy project/prj_storefront --at 2026-03-05 || true
"$hindsight" check --data "$story" usr_erin project:deploy project/prj_storefront --at 2026-03-12 || true
echo "== what Erin could do on 5 March, grant by grant (the first permissions of each)"
"$hindsight" what-can --data "$story" usr_erin --at 2026-03-05 | cut -c1-150
echo "== what happened: Alice's last five actions, and one release followed by its correlation id"
"$hindsight" audit --data "$story" --actor usr_alice --limit 5
"$hindsight" audit --data "$story" --correlation-id chg_release_b_001
echo "== how the checkout project's builds went"
"$hindsight" analytics builds --data "$story" --project prj_checkout
echo "== the inventories an auditor asks for first: the payments team, stale tokens, overdue backups"
"$hindsight" team --data "$story" team_payments
"$hindsight" tokens --data "$story" --stale --older-than-days 5 --at 2026-03-15
"$hindsight" backups --data "$story" --overdue --at 2026-03-20
echo "== a signed audit export of the first week, checked by the independent Python verifier"
key="${data%/*}/signing.key"
"$hindsight" keys init --key "$key" > "${data%/*}/signing.pub"
"$hindsight" export audit --data "$story" --key "$key" --from 2026-03-01 --to 2026-03-07 --out "${data%/*}/week-1"
python3 Tools/verify_export.py "${data%/*}/week-1" --key "$(cat "${data%/*}/signing.pub")"
echo "== invitations as readers see them: Erin's address reads as [erased]"
"$hindsight" read --data "$story" --type member.invited | grep -o '"invitation":"[^"]*","team":"[^"]*","email":"[^"]*"'
echo "== the same events as stored: every address is ciphertext, and the log still verifies"
"$hindsight" read --data "$story" --type member.invited --stored --limit 1 | grep -o '"email":"[^"]*"'
"$hindsight" verify --data "$story"
echo "== a secret is refused, and nothing is stored"
echo '{"type":"env_var.set","stream":"project/prj_checkout","occurredAt":"2026-03-21T09:00:00.000Z","actor":{"kind":"user","id":"usr_carol"},"org":"org_acme","data":{"project":"prj_checkout","key":"DB_PASSWORD","target":"production","secret":true,"value":"hunter2","valueFingerprint":"f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"}}' \
    | "$hindsight" append --data "$story" || true
"$hindsight" stats --data "$story" | head -n 1
