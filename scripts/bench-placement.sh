#!/usr/bin/env bash
# Placement benchmark: a realistic French CSV placed through the HTTPS API, against psql \copy
# of the same file into an equivalent table with the same indexes, on the same throwaway
# cluster, in one run; and the server's peak memory (VmHWM) during the import.
#   scripts/bench-placement.sh [ROWS]      (default 1000000; needs a release build)
# Options (environment): SKIP_FLOOR=1, PLACE_AGAIN=1, KEEP_LOG=FILE (PostgreSQL log),
# BENCH_FILE=FILE (place this file, generated there first if missing; scripts/bench-rounds.sh),
# BENCH_MAPPING=1 (the creditor has a saved column mapping naming every column of the file),
# RELANCE_PG_OPTIONS (server settings), PERF_RECORD=FILE (perf profile of the upload),
# SKIP_ASSIGN=1 (no agents: the placement's cases wait unassigned), BENCH_LOG_LEVEL (the server's;
# debug shows where an assignment pass spends its time), KEEP_SERVER_LOG=FILE.
# Assignment (issue 14): 200 agents in 10 teams (capacity 5,000 each), nine rules by kind of
# debtor and balance band and a default; the server's assigner gives the placement's cases to
# them as soon as the merge completes, consolidation and capacity on. Timed from the placement's
# completion to its `assigned_at`, side by side with the placement's own time.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
bin=$(swift build -c release --show-bin-path)/relance
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
dir=$(mktemp -d /tmp/relance-bench.XXXXXX)
port=$(scripts/pg-cluster.sh freeport)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; [ -n "${KEEP_SERVER_LOG:-}" ] && cp "$dir/server.log" "$KEEP_SERVER_LOG"; [ -n "${KEEP_LOG:-}" ] && cp "$(cat "$dir/pg/datadir")/server.log" "$KEEP_LOG"; scripts/pg-cluster.sh destroy "$dir/pg"; rm -rf "$dir"; }
trap cleanup EXIT
envlines=$(scripts/pg-cluster.sh start "$dir/pg" "$port")
set -a; eval "$envlines"; set +a
file=${BENCH_FILE:-$dir/placement.csv}
[ -s "$file" ] || python3 Benchmarks/generate-placement.py "$rows" "$file"
bytes=$(stat -c %s "$file")
export RELANCE_HOME=$PWD RELANCE_LOG_LEVEL=${BENCH_LOG_LEVEL:-warning} RELANCE_DATA_KEY=$(openssl rand -base64 32)
scripts/dev-cert.sh "$dir/tls" >/dev/null
export RELANCE_TLS_CERT=$dir/tls/dev-cert.pem RELANCE_TLS_KEY=$dir/tls/dev-key.pem
"$bin" migrate >/dev/null
admin_db="${RELANCE_ADMIN_DATABASE_URL%/postgres}/relance"
creditor=$(psql "$admin_db" -qtAc "INSERT INTO creditors (id, legal_name, siren) VALUES (gen_random_uuid(), 'Bench SAS', '732829320') RETURNING id")
psql "$admin_db" -qc "INSERT INTO mandates (creditor_id, id, reference, signed_on, valid_from, power_to_receive_funds, fee_basis, remittance_basis, remittance_frequency, remittance_days_after_encashment, insurance_reference) VALUES ('$creditor', gen_random_uuid(), 'BENCH', current_date, current_date, true, '15 %', 'net', 'monthly', 30, 'RCP')"
secret=$(openssl rand -hex 24)
prefix=rk_benchbench01
psql "$admin_db" -qc "INSERT INTO api_keys (creditor_id, id, prefix, secret_hash, name, scopes) VALUES ('$creditor', gen_random_uuid(), '$prefix', sha256('$secret'::bytea), 'bench', ARRAY['placements'])"
if [ "${BENCH_MAPPING:-0}" = 1 ]; then
  # Every header of Benchmarks/generate-placement.py's file, read through the mapping.
  psql "$admin_db" -qc "INSERT INTO column_mappings (creditor_id, version, columns, created_by_kind) VALUES ('$creditor', 1, '{\"Référence\": \"creditor_reference\", \"N° Facture\": \"invoice_number\", \"Date facture\": \"issue_date\", \"Échéance\": \"due_date\", \"Montant TTC\": \"amount\", \"Type\": \"debtor_type\", \"Raison sociale\": \"debtor_name\", \"Prénom\": \"first_name\", \"Nom\": \"last_name\", \"SIREN\": \"siren\", \"Courriel\": \"email\", \"Téléphone\": \"phone\", \"Adresse\": \"address_line1\", \"Code postal\": \"postal_code\", \"Ville\": \"city\"}', 'system')"
  echo "column mapping:       saved, version 1, every column"
fi

if [ -z "${SKIP_ASSIGN:-}" ]; then
  psql "$admin_db" -q <<'SQL'
INSERT INTO teams (id, name) SELECT gen_random_uuid(), 'Équipe ' || lpad(n::text, 2, '0') FROM generate_series(1, 10) n;
WITH a AS (SELECT gen_random_uuid() AS id, n FROM generate_series(0, 199) n),
     u AS (INSERT INTO users (id, email, role, password_hash) SELECT id, 'agent' || n || '@bench.test', 'agent', 'x' FROM a)
INSERT INTO agent_profiles (user_id, team_id, languages, debtor_kinds, stages, capacity)
SELECT a.id, (SELECT id FROM teams ORDER BY name OFFSET (a.n % 10) LIMIT 1), '{fr,en}', '{person,company}', '{amicable_calls,letters}', 5000 FROM a;
INSERT INTO assignment_rule_versions (version, created_by_kind) VALUES (1, 'system');
INSERT INTO assignment_rules (version, position, name, is_default, debtor_kind, min_balance_minor, team_id)
SELECT 1, r.position, r.name, r.is_default, r.kind, r.min_balance, (SELECT id FROM teams ORDER BY name OFFSET r.team LIMIT 1)
FROM (VALUES (1, 'Entreprises, gros montants', false, 'company', 500000, 0), (2, 'Entreprises, montants moyens', false, 'company', 100000, 1),
             (3, 'Entreprises', false, 'company', NULL, 2), (4, 'Particuliers, gros montants', false, 'person', 200000, 3),
             (5, 'Particuliers 500 €', false, 'person', 50000, 4), (6, 'Particuliers 200 €', false, 'person', 20000, 5),
             (7, 'Particuliers 100 €', false, 'person', 10000, 6), (8, 'Particuliers 50 €', false, 'person', 5000, 7),
             (9, 'Particuliers 20 €', false, 'person', 2000, 8), (10, 'default', true, NULL, NULL, 9))
     AS r(position, name, is_default, kind, min_balance, team);
SQL
  echo "assignment:           200 agents in 10 teams (capacity 5000 each), 9 rules and a default"
fi

# Each timed step starts on a settled cluster: what the step before left to do (autovacuum of
# the rows it wrote, the server's deletion of staged rows and statistics refresh after a merge,
# dirty pages) is done first and charged to no one: the server's own queries finished, the
# tables vacuumed and analysed, a checkpoint taken.
settle() {
  for _ in $(seq 1 600); do
    [ "$(psql "$admin_db" -qtAc "SELECT count(*) FROM pg_stat_activity WHERE datname = 'relance' AND state <> 'idle' AND pid <> pg_backend_pid()")" = 0 ] && break
    sleep 0.5
  done
  psql "$admin_db" -qc "VACUUM (ANALYZE)" -c "CHECKPOINT"
}

# Baseline: psql \copy into an equivalent table (same columns as text, same unique index).
psql "$admin_db" -qc "CREATE TABLE bench_copy (creditor_reference text PRIMARY KEY, invoice_number text, issue_date text, due_date text, amount text, kind text, company text, first_name text, last_name text, siren text, email text, phone text, address text, postal_code text, city text)"
start=$(date +%s.%N)
psql "$admin_db" -qc "\\copy bench_copy FROM '$file' WITH (FORMAT csv, DELIMITER ';', HEADER true, ENCODING 'UTF8')"
copy_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")

# The API: upload, then wait for the merge to complete.
export RELANCE_PORT=$(scripts/pg-cluster.sh freeport)
settle
"$bin" serve >"$dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sk -o /dev/null -f "https://127.0.0.1:$RELANCE_PORT/health/ready" && break; sleep 0.1; done
rss_start=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
# PERF_RECORD=FILE: a CPU profile of the server during the upload (perf report -i FILE --children);
# with PERF_ALL=1, of the whole machine (the server and PostgreSQL side by side).
perf_pid=""
if [ -n "${PERF_RECORD:-}" ]; then target=(-p "$server_pid"); [ -n "${PERF_ALL:-}" ] && target=(-a); perf record -F 999 -g "${target[@]}" -o "$PERF_RECORD" >/dev/null 2>&1 & perf_pid=$!; sleep 0.5; fi
start=$(date +%s.%N)
id=$(curl -sk -H "authorization: Bearer ${prefix}_${secret}" -H 'content-type: text/csv' --data-binary @"$file" \
  "https://127.0.0.1:$RELANCE_PORT/v1/creditors/$creditor/placements" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
staged_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")
[ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
until [ "$(psql "$admin_db" -qtAc "SELECT status FROM placements WHERE id = '$id'")" != "staged" ]; do sleep 0.2; done
api_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")
assign_s=""
if [ -z "${SKIP_ASSIGN:-}" ]; then
  until [ "$(psql "$admin_db" -qtAc "SELECT status FROM placements WHERE id = '$id'")" = "completed" ]; do sleep 0.1; done
  start=$(date +%s.%N)
  until [ -n "$(psql "$admin_db" -qtAc "SELECT assigned_at FROM placements WHERE id = '$id'")" ]; do sleep 0.1; done
  assign_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")
  # The queue fed: the work items of the assigned cases, made by the queue's clock from the
  # inbox the assignment filled (migration 0021), counted from the assignment's end.
  start=$(date +%s.%N)
  until [ "$(psql "$admin_db" -qtAc "SELECT NOT EXISTS (SELECT 1 FROM work_item_inbox) AND (SELECT count(*) FROM work_items) >= (SELECT cases_assigned FROM placements WHERE id = '$id')")" = t ]; do sleep 0.1; done
  queued_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")
  assigned=$(psql "$admin_db" -qtAc "SELECT 'cases=' || (cases_assigned + cases_unassigned) || ' assigned=' || cases_assigned || ' waiting=' || cases_unassigned FROM placements WHERE id = '$id'")
  consolidated=$(psql "$admin_db" -qtAc "SELECT count(*) FROM case_assignments WHERE kind = 'consolidation'")
fi
peak_kb=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
counts=$(psql "$admin_db" -qtAc "SELECT status || ' received=' || received || ' accepted=' || accepted || ' rejected=' || rejected || ' mapping=' || coalesce(column_mapping || ' v' || column_mapping_version, 'none') FROM placements WHERE id = '$id'")

# PLACE_AGAIN=1: the same file placed a second time (every row already placed: the general
# merge path, every row comes back unchanged).
again_s=""
again_counts=""
if [ -n "${PLACE_AGAIN:-}" ]; then
  # the staged rows of the first placement deleted (the server does it right after the merge)
  until [ "$(psql "$admin_db" -qtAc "SELECT count(*) FROM placement_rows")" = 0 ]; do sleep 0.2; done
  settle
  start=$(date +%s.%N)
  id2=$(curl -sk -H "authorization: Bearer ${prefix}_${secret}" -H 'content-type: text/csv' --data-binary @"$file" \
    "https://127.0.0.1:$RELANCE_PORT/v1/creditors/$creditor/placements" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  until [ "$(psql "$admin_db" -qtAc "SELECT status FROM placements WHERE id = '$id2'")" != "staged" ]; do sleep 0.2; done
  again_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")
  again_counts=$(psql "$admin_db" -qtAc "SELECT status || ' accepted=' || accepted || ' unchanged=' || unchanged || ' updated=' || updated FROM placements WHERE id = '$id2'")
  peak_kb=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
fi

# The floor for this schema: the rows the placement produced (debtors, cases, claims,
# identifiers, acknowledgement), written by psql \copy into tables with the same columns,
# indexes, checks and foreign keys (no row-level security), in the same order of tables.
floor_s=""
if [ -z "${SKIP_FLOOR:-}" ]; then
  tables="debtors cases claims debtor_keys placement_outcomes"
  for t in $tables; do
    only="creditor_id = '$creditor'"
    [ "$t" = placement_outcomes ] && only="$only AND placement_id = '$id'"  # the first placement's
    psql "$admin_db" -qc "\\copy (SELECT * FROM $t WHERE $only) TO '$dir/$t.tsv'"
    # no autovacuum on the floor's tables while they are written (the floor as fast as it gets)
    psql "$admin_db" -qc "CREATE TABLE floor_$t (LIKE $t INCLUDING ALL) WITH (autovacuum_enabled = off)"
  done
  psql "$admin_db" -qc "ALTER TABLE floor_cases ADD FOREIGN KEY (creditor_id, debtor_id) REFERENCES floor_debtors (creditor_id, id)" \
    -c "ALTER TABLE floor_claims ADD FOREIGN KEY (creditor_id, case_id) REFERENCES floor_cases (creditor_id, id)"
  until [ "$(psql "$admin_db" -qtAc "SELECT count(*) FROM placement_rows")" = 0 ]; do sleep 0.2; done
  settle
  start=$(date +%s.%N)
  floor_tables=""
  for t in $tables; do
    t0=$(date +%s.%N)
    psql "$admin_db" -qc "\\copy floor_$t FROM '$dir/$t.tsv'"
    floor_tables="$floor_tables $t $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}")s"
  done
  floor_s=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $start}")
fi

echo "rows:                 $rows ($((bytes / 1048576)) MiB)"
echo "psql \\copy:           ${copy_s}s"
echo "API upload (staged):  ${staged_s}s"
echo "API placement total:  ${api_s}s   ratio $(awk "BEGIN {printf \"%.2f\", $api_s / $copy_s}")x"
[ -n "$floor_s" ] && echo "floor, same final rows: ${floor_s}s (psql \\copy into tables like debtors, cases, claims, debtor_keys, placement_outcomes; API/floor $(awk "BEGIN {printf \"%.2f\", $api_s / $floor_s}")x)"
[ -n "$floor_s" ] && echo "floor by table:      $floor_tables"
[ -n "$assign_s" ] && echo "API assignment:       ${assign_s}s   assignment/placement $(awk "BEGIN {printf \"%.2f\", $assign_s / $api_s}")x   $assigned consolidated=$consolidated"
[ -n "$assign_s" ] && echo "queue fed:            ${queued_s}s after the assignment (work items of every assigned case made by the queue's clock)"
echo "server RSS:           start $((rss_start / 1024)) MiB, peak $((peak_kb / 1024)) MiB"
echo "placement:            $counts"
[ -n "$again_s" ] && echo "placed again:         ${again_s}s   $again_counts"
true
