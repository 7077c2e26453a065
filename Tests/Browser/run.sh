#!/usr/bin/env bash
# Real-browser test of the office pages (docs/ADMIN.md, docs/CRM.md): builds the tools, starts
# `relais-hub serve` on a temporary store and a free port, makes conflicts with `relais` replicas, runs
# admin_review.py (an admin reviews them) and manager_reports.py (a manager's reports), in headless
# Chromium driven by Selenium through /usr/bin/chromedriver, and cleans up.
# Needs: chromium, chromium-driver, python3 with selenium (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

# RELAIS_BIN_DIR: a folder that already holds relais-hub and relais (skips the build).
if [ -n "${RELAIS_BIN_DIR:-}" ]; then
    bin=$RELAIS_BIN_DIR
else
    swift build -j 2 --product relais-hub >/dev/null
    swift build -j 2 --product relais >/dev/null
    bin=$(swift build -j 2 --show-bin-path)
fi
hub_bin="$bin/relais-hub"
relais="$bin/relais"

work=$(mktemp -d /tmp/relais-browser.XXXXXX)
hub_pid=""
cleanup() {
    if [ -n "$hub_pid" ]; then kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

admin_token=$("$hub_bin" init --data "$work/hub" --json | json_field admin_token)
claire_code=$("$hub_bin" user add claire --role rep --territory north --data "$work/hub" --json | json_field enrollment_code)
bob_code=$("$hub_bin" user add bob --role rep --territory north --data "$work/hub" --json | json_field enrollment_code)
dave_code=$("$hub_bin" user add dave --role rep --territory south --data "$work/hub" --json | json_field enrollment_code)
erin_code=$("$hub_bin" user add erin --role rep --territory south --data "$work/hub" --json | json_field enrollment_code)

"$hub_bin" serve --data "$work/hub" --host 127.0.0.1 --port 0 >"$work/hub.log" 2>&1 &
hub_pid=$!
hub_url=""
for _ in $(seq 1 100); do
    hub_url=$(sed -n 's/^relais-hub listening on \(http[^ ]*\).*/\1/p' "$work/hub.log" | head -1)
    [ -n "$hub_url" ] && break
    sleep 0.1
done
[ -n "$hub_url" ] || { echo "the hub did not start:" >&2; cat "$work/hub.log" >&2; exit 1; }
echo "hub at $hub_url"

"$relais" enroll --hub "$hub_url" --code "$claire_code" --db "$work/claire.db" >/dev/null
"$relais" enroll --hub "$hub_url" --code "$bob_code" --db "$work/bob.db" >/dev/null
"$relais" enroll --hub "$hub_url" --code "$dave_code" --db "$work/dave.db" >/dev/null
"$relais" enroll --hub "$hub_url" --code "$erin_code" --db "$work/erin.db" >/dev/null
id=$("$relais" add customers "name=Boulangerie Martin" territory=north status=active --db "$work/claire.db" --json | json_field id)
"$relais" sync --db "$work/claire.db" >/dev/null
"$relais" sync --db "$work/bob.db" >/dev/null
# Offline, both change the status: a manual-rule conflict at the hub.
"$relais" set customers "$id" status=at_risk --db "$work/claire.db"
"$relais" set customers "$id" status=lapsed --db "$work/bob.db"
"$relais" sync --db "$work/claire.db" >/dev/null
"$relais" sync --db "$work/bob.db" >/dev/null

# Part 1: sign in, filter, open the conflict, reinstate the losing value (JavaScript on).
python3 "$root/Tests/Browser/admin_review.py" single \
    --hub "$hub_url" --token "$admin_token" --record "$id" \
    --relais "$relais" --replica "$work/bob.db" --screenshots "$root/docs/screenshots"

# Part 2 (JavaScript off): bulk-resolve the open manual conflicts on `status` in territory north.
# Two north customers get a status conflict (bob's value is the newer), the first one also a
# `programme` conflict (another field: must stay open), and a south customer a status conflict
# (another territory: must stay open). Claire does not sync after the hub merged: her replica still
# shows her own older value until her next sync after the bulk resolve.
bulk_a=$("$relais" add customers "name=Café Dupont" territory=north status=active --db "$work/claire.db" --json | json_field id)
bulk_b=$("$relais" add customers "name=Fromagerie Roux" territory=north status=active --db "$work/claire.db" --json | json_field id)
south=$("$relais" add customers "name=Cave Sud" territory=south status=active --db "$work/dave.db" --json | json_field id)
for who in claire bob dave erin; do "$relais" sync --db "$work/$who.db" >/dev/null; done
"$relais" set customers "$bulk_a" status=at_risk programme=recovery --db "$work/claire.db"
"$relais" set customers "$bulk_b" status=at_risk --db "$work/claire.db"
"$relais" set customers "$south" status=at_risk --db "$work/dave.db"
"$relais" set customers "$bulk_a" status=lapsed programme=loyalty --db "$work/bob.db"
"$relais" set customers "$bulk_b" status=lapsed --db "$work/bob.db"
"$relais" set customers "$south" status=lapsed --db "$work/erin.db"
for who in claire dave bob erin; do "$relais" sync --db "$work/$who.db" >/dev/null; done

python3 "$root/Tests/Browser/admin_review.py" bulk \
    --hub "$hub_url" --token "$admin_token" --record "$bulk_a" --record "$bulk_b" --other "$south" \
    --relais "$relais" --replica "$work/claire.db" --screenshots "$root/docs/screenshots"

# Part 3: a manager of the north (their own token) sees the value at risk of the north only and
# confirms a programme proposal; Claire's laptop receives it at its next sync (docs/CRM.md).
"$hub_bin" user add marc --role manager --territory north --data "$work/hub" >/dev/null
marc_token=$("$hub_bin" token issue --user marc --data "$work/hub" --json | json_field token)
hotel=$("$relais" add customers "name=Hôtel du Parc" territory=north status=active --db "$work/claire.db" --json | json_field id)
"$relais" add orders "customer_id=$hotel" "ordered_on=$(date -u +%F)" amount=4000 margin=1200 --db "$work/claire.db" >/dev/null
"$relais" sync --db "$work/claire.db" >/dev/null
"$hub_bin" values --data "$work/hub" >/dev/null
python3 "$root/Tests/Browser/manager_reports.py" \
    --hub "$hub_url" --token "$marc_token" --record "$hotel" --name "Hôtel du Parc" --hidden "Cave Sud" \
    --relais "$relais" --replica "$work/claire.db" --screenshots "$root/docs/screenshots"
