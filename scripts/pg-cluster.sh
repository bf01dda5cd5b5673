#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, listening on 127.0.0.1 only.
#
#   scripts/pg-cluster.sh start STATE_DIR PORT   create (first time) and start; prints env lines
#   scripts/pg-cluster.sh stop STATE_DIR         stop (fast shutdown)
#   scripts/pg-cluster.sh env STATE_DIR          print the env lines again
#   scripts/pg-cluster.sh destroy STATE_DIR      stop and delete everything (test clusters)
#   scripts/pg-cluster.sh freeport _             print a free TCP port
#
# Three roles: relance_admin (superuser, used only by this script and the test harness),
# relance_owner (owns the schema, runs migrations), relance_app (the service: owns nothing,
# no BYPASSRLS). Passwords are random, kept in STATE_DIR/credentials.env (mode 600).
#
# PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user, in
# STATE_DIR/pgdata when that user can reach it, else under /var/tmp (recorded in
# STATE_DIR/datadir).
set -euo pipefail

cmd=${1:?usage: pg-cluster.sh start|stop|env|destroy STATE_DIR [PORT]}
if [ "$cmd" = freeport ]; then
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; exit 0; fi
  done
  echo "pg-cluster: no free port found" >&2; exit 1
fi
state=${2:?state directory required}
mkdir -p "$state"
state=$(cd "$state" && pwd)

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/initdb" ]; then
  for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/initdb" ] && bindir=$candidate; done
fi
if [ ! -x "$bindir/initdb" ]; then
  echo "pg-cluster: PostgreSQL server binaries not found (install the 'postgresql' package)" >&2
  exit 1
fi

as_pg() {
  # From /: the postgres user may not be allowed into the caller's working directory.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

datadir_of() {
  if [ -f "$state/datadir" ]; then cat "$state/datadir"; return; fi
  local d="$state/pgdata"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$d"
    chown postgres:postgres "$d"
    if ! runuser -u postgres -- test -w "$d" 2>/dev/null; then
      rmdir "$d" 2>/dev/null || true
      d="/var/tmp/relance-pg-$(printf '%s' "$state" | sha1sum | cut -c1-12)/pgdata"
      mkdir -p "$d"
      chown postgres:postgres "$(dirname "$d")" "$d"
    fi
  fi
  echo "$d" > "$state/datadir"
  echo "$d"
}

print_env() {
  # shellcheck disable=SC1091
  . "$state/credentials.env"
  local port; port=$(cat "$state/port")
  echo "RELANCE_DATABASE_URL=postgresql://relance_app:${APP_PASSWORD}@127.0.0.1:${port}/relance"
  echo "RELANCE_MIGRATION_DATABASE_URL=postgresql://relance_owner:${OWNER_PASSWORD}@127.0.0.1:${port}/relance"
  echo "RELANCE_ADMIN_DATABASE_URL=postgresql://relance_admin:${ADMIN_PASSWORD}@127.0.0.1:${port}/postgres"
}

case "$cmd" in
start)
  port=${3:?port required}
  data=$(datadir_of)
  if [ ! -f "$state/credentials.env" ]; then
    umask 077
    {
      echo "ADMIN_PASSWORD=$(openssl rand -hex 24)"
      echo "OWNER_PASSWORD=$(openssl rand -hex 24)"
      echo "APP_PASSWORD=$(openssl rand -hex 24)"
    } > "$state/credentials.env"
    umask 022
  fi
  # shellcheck disable=SC1091
  . "$state/credentials.env"
  if [ ! -f "$data/PG_VERSION" ]; then
    pwfile="$data.pw"
    printf '%s\n' "$ADMIN_PASSWORD" > "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pwfile"
    chmod 600 "$pwfile"
    as_pg "$bindir/initdb" -D "$data" -U relance_admin --pwfile="$pwfile" \
      --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; rm -f "$pwfile"; exit 1; }
    rm -f "$pwfile"
    fresh=1
  fi
  echo "$port" > "$state/port"
  if ! as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "pg-cluster: port $port is already in use by another program (another PostgreSQL?)." >&2
      echo "  Stop it, or choose another port: make run DEV_PG_PORT=55432" >&2
      exit 1
    fi
    # 400 connections: the test suite runs its suites in parallel, each with its own database
    # and pools; with the assignment tests it peaked past 200 on a fresh clone (logins 503,
    # "could not connect").
    as_pg "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$data' -c max_connections=400 -c fsync=${RELANCE_PG_FSYNC:-on} ${RELANCE_PG_OPTIONS:-}" \
      start >/dev/null || { tail -n 20 "$data/server.log" >&2; exit 1; }
  fi
  admin="postgresql://relance_admin:${ADMIN_PASSWORD}@127.0.0.1:${port}/postgres"
  if [ "${fresh:-0}" = 1 ] || ! psql "$admin" -tAc "SELECT 1 FROM pg_roles WHERE rolname='relance_app'" | grep -q 1; then
    psql "$admin" -v ON_ERROR_STOP=1 -q <<SQL >/dev/null
CREATE ROLE relance_owner LOGIN PASSWORD '${OWNER_PASSWORD}';
CREATE ROLE relance_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${APP_PASSWORD}';
CREATE DATABASE relance OWNER relance_owner;
SQL
  fi
  print_env
  ;;
stop)
  if [ -f "$state/datadir" ]; then
    data=$(cat "$state/datadir")
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  ;;
env)
  print_env
  ;;
destroy)
  # stop, then delete the cluster and the state directory (throwaway test clusters)
  if [ -f "$state/datadir" ]; then
    data=$(cat "$state/datadir")
    as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    case "$data" in
      /var/tmp/relance-pg-*) rm -rf "$(dirname "$data")" ;;
      *) rm -rf "$data" ;;
    esac
  fi
  rm -rf "$state"
  ;;
*)
  echo "usage: pg-cluster.sh start|stop|env STATE_DIR [PORT]" >&2
  exit 2
  ;;
esac
