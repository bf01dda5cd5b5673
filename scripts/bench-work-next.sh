#!/usr/bin/env bash
# The work queue's benchmark (issue 15): 1,000,000 cases held by 200 agents; 32 agents ask for
# their next case over HTTPS with authentication (Benchmarks/work-next-client.py: next, then the
# release with a follow-up, in a loop), and pgbench runs the same statements directly against the
# same data (Benchmarks/work-next.pgbench, prepared as the server prepares them), one after the other on the same cluster. Prints both
# throughputs, their ratio, the latency of POST /v1/work/next, the claim's plan; then checks from
# the database that no two leases of a case overlapped (the claims of both runs: over 100,000).
#   scripts/bench-work-next.sh [CASES] [SECONDS]     (default 1000000 30; needs a release build)
# The rules of contact are opened every hour of every day: the benchmark may run at any hour.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-1000000}
seconds=${2:-30}
bin=$(swift build -c release --show-bin-path)/relance
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "pgbench is missing (Debian: postgresql-contrib or postgresql)" >&2; exit 1; }
dir=$(mktemp -d /tmp/relance-bench-work.XXXXXX)
port=$(scripts/pg-cluster.sh freeport)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  [ -n "${KEEP_SERVER_LOG:-}" ] && cp "$dir/server.log" "$KEEP_SERVER_LOG"
  # BENCH_KEEP=1: leave the cluster running to look at it (its settings in $dir/env; stop it with
  # scripts/pg-cluster.sh destroy $dir/pg).
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept: $dir (env in $dir/env)"; return; fi
  scripts/pg-cluster.sh destroy "$dir/pg"; rm -rf "$dir"
}
trap cleanup EXIT
envlines=$(scripts/pg-cluster.sh start "$dir/pg" "$port")
echo "$envlines" > "$dir/env"
set -a; eval "$envlines"; set +a
export RELANCE_HOME=$PWD RELANCE_LOG_LEVEL=${BENCH_LOG_LEVEL:-warning} RELANCE_DATA_KEY=$(openssl rand -base64 32)
export RELANCE_DB_POOL_SIZE=${BENCH_POOL_SIZE:-16}
scripts/dev-cert.sh "$dir/tls" >/dev/null
export RELANCE_TLS_CERT=$dir/tls/dev-cert.pem RELANCE_TLS_KEY=$dir/tls/dev-key.pem
"$bin" migrate >/dev/null
admin_db="${RELANCE_ADMIN_DATABASE_URL%/postgres}/relance"
app_db="$RELANCE_DATABASE_URL"

echo "data:                 $cases cases of one creditor, 200 agents ($((cases / 200)) each), every case due"
start=$(date +%s.%N)
psql "$admin_db" -q -v cases="$cases" <<'SQL'
INSERT INTO creditors (id, legal_name, siren) VALUES ('00000000-0000-4000-8000-000000000001', 'Bench SAS', '732829320');
INSERT INTO placements (creditor_id, id, status, format, file_sha256, byte_count, created_by_kind)
VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'completed', 'csv', '\x00', 0, 'system');
INSERT INTO teams (id, name) VALUES ('00000000-0000-4000-8000-000000000003', 'Bench');
CREATE TABLE bench_agents (n integer PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench_agents SELECT n, gen_random_uuid() FROM generate_series(1, 200) n;
GRANT SELECT ON bench_agents TO relance_app;
INSERT INTO users (id, email, role, password_hash, display_name) SELECT id, 'agent' || n || '@bench.test', 'agent', 'x', 'Agent ' || n FROM bench_agents;
INSERT INTO agent_profiles (user_id, team_id, languages, debtor_kinds, stages, capacity)
SELECT id, '00000000-0000-4000-8000-000000000003', '{fr}', '{person,company}', '{amicable_calls}', 100000 FROM bench_agents;
INSERT INTO debtors (creditor_id, id, kind, name, emails, phones, country, time_zone, language)
SELECT '00000000-0000-4000-8000-000000000001', gen_random_uuid(), CASE WHEN n % 5 = 0 THEN 'company' ELSE 'person' END,
       'Débiteur ' || n, ARRAY['d' || n || '@example.test'], ARRAY['+3360000' || lpad((n % 10000)::text, 4, '0')], 'FR', 'Europe/Paris', 'fr'
FROM generate_series(1, :cases) n;
INSERT INTO cases (creditor_id, id, debtor_id, currency, principal_minor, balance_minor, oldest_due_date, first_placement_id, assigned_agent_id, assigned_at)
SELECT d.creditor_id, gen_random_uuid(), d.id, 'EUR', d.b, d.b, current_date - (30 + (d.r * 700)::int), '00000000-0000-4000-8000-000000000002', a.id, now()
FROM (SELECT creditor_id, id, (1000 + random() * 500000)::bigint AS b, random() AS r, row_number() OVER () AS rn FROM debtors) d
JOIN bench_agents a ON a.n = 1 + (d.rn % 200)::int;
INSERT INTO work_items (creditor_id, case_id, agent_id, case_open, level, due_at, zone, score, ready)
SELECT c.creditor_id, c.id, c.assigned_agent_id, true, 5, now() - interval '1 hour', 'FR Europe/Paris',
       (SELECT sum(x)::int FROM unnest(work_score_parts(c.balance_minor, c.oldest_due_date, d.kind, NULL, now())) x), true
FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id;
INSERT INTO contact_zones (zone, jurisdiction, time_zone) VALUES ('FR Europe/Paris', 'FR', 'Europe/Paris');
UPDATE contact_rules SET recurring_holidays = '{}', holidays = '{}',
    hours = '{"1":[{"from":"00:00","to":"24:00"}],"2":[{"from":"00:00","to":"24:00"}],"3":[{"from":"00:00","to":"24:00"}],"4":[{"from":"00:00","to":"24:00"}],"5":[{"from":"00:00","to":"24:00"}],"6":[{"from":"00:00","to":"24:00"}],"7":[{"from":"00:00","to":"24:00"}]}'
WHERE jurisdiction = 'FR';
VACUUM ANALYZE;
CHECKPOINT;
SQL
echo "data loaded:          $(awk "BEGIN {printf \"%.0f\", $(date +%s.%N) - $start}")s"

# 32 agents' sessions (bearer tokens as POST /v1/auth/token makes them, stored hashed).
for n in $(seq 1 32); do
  token="rls_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
  echo "$token" >> "$dir/tokens"
  psql "$admin_db" -qc "INSERT INTO sessions (id, token_hash, user_id, expires_at) SELECT gen_random_uuid(), sha256(convert_to('$token', 'UTF8')), id, now() + interval '12 hours' FROM bench_agents WHERE n = $n"
done

export RELANCE_PORT=$(scripts/pg-cluster.sh freeport)
"$bin" serve >"$dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sk -o /dev/null -f "https://127.0.0.1:$RELANCE_PORT/health/ready" && break; sleep 0.1; done
sleep 2   # the queue's clock computes the zones' windows at start

echo "== HTTPS: 32 agents, POST /v1/work/next then the release, ${seconds}s after 5s warm-up (pool $RELANCE_DB_POOL_SIZE)"
python3 Benchmarks/work-next-client.py 127.0.0.1 "$RELANCE_PORT" "$dir/tokens" "$seconds" 5 | tee "$dir/http.txt"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
# BENCH_STATEMENTS=1 (with RELANCE_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements"):
# the server's statements by total time, to see where a claim's time goes.
if [ -n "${BENCH_STATEMENTS:-}" ]; then
  psql "$admin_db" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  psql "$admin_db" -c "SELECT calls, round(total_exec_time::numeric, 0) AS exec_ms, round(total_plan_time::numeric, 0) AS plan_ms, round((mean_exec_time)::numeric, 3) AS mean_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 15"
fi
psql "$admin_db" -qc "VACUUM ANALYZE work_items" -c "CHECKPOINT"

echo "== pgbench: 32 clients, the same statements, ${seconds}s"
if ! pgbench -n -r -M prepared -c 32 -j 2 -T "$seconds" -f Benchmarks/work-next.pgbench "$app_db" >"$dir/pgbench.txt" 2>&1; then
  echo "pgbench failed:" >&2; grep -v "^ " "$dir/pgbench.txt" | tail -8 >&2; exit 1
fi
grep -E "^(tps|latency|number of (transactions|failed))|^ +[0-9]" "$dir/pgbench.txt"

http_rate=$(awk '/^claims\/s:/ {print $2}' "$dir/http.txt")
pg_rate=$(awk '/^tps = / {printf "%.0f", $3}' "$dir/pgbench.txt")
if [ -z "$pg_rate" ] || [ "$pg_rate" = 0 ]; then echo "pgbench did not run:" >&2; grep -i "error" "$dir/pgbench.txt" | head -5 >&2; exit 1; fi
echo "== claims per second: HTTPS $http_rate, pgbench $pg_rate, ratio $(awk "BEGIN {printf \"%.2f\", $http_rate / $pg_rate}")x"
grep "^work/next latency" "$dir/http.txt"

echo "== the claim's plan (agent 1, who had $((cases / 200)) cases, after the runs)"
agent=$(psql "$admin_db" -qtAc "SELECT id FROM bench_agents WHERE n = 1")
claim=$(sed -n '/^WITH held AS/,/^CROSS JOIN LATERAL/p' Benchmarks/work-next.pgbench \
  | sed "s/:agent/'$agent'/g; s/:at::timestamptz/now()/g; s/:seconds/600/g")
psql "$app_db" -q <<SQL > "$dir/plan.txt" || true
BEGIN;
SELECT set_config('app.principal_kind', 'staff', true), set_config('app.user_id', '$agent', true), set_config('app.role', 'agent', true) \g /dev/null
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
$claim;
ROLLBACK;
SQL
sed -n '/QUERY PLAN/,$p' "$dir/plan.txt" | grep -v "^-" | grep -v "InitPlan\|Result (actual time=0.0" | head -"${BENCH_PLAN_LINES:-80}" || true

echo "== double leases"
total=$(psql "$admin_db" -qtAc "SELECT count(*) FROM work_leases")
overlap=$(psql "$admin_db" -qtAc "SELECT count(*) FROM work_leases a JOIN work_leases b ON b.creditor_id = a.creditor_id AND b.case_id = a.case_id AND b.lease_id <> a.lease_id AND b.leased_at < coalesce(a.ended_at, 'infinity') AND a.leased_at < coalesce(b.ended_at, 'infinity')")
echo "leases taken: $total   overlapping pairs: $overlap"
[ "$overlap" = 0 ] || { echo "DOUBLE LEASES" >&2; exit 1; }
