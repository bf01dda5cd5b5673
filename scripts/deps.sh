#!/usr/bin/env bash
# Checks what Relance needs from the system; installs it when run as root, otherwise prints
# the exact command to run.
set -euo pipefail
missing=()
command -v swift >/dev/null 2>&1 || { echo "deps: the Swift toolchain (swift) is not on PATH: install Swift 6.x from swift.org first" >&2; exit 1; }
pkg-config --exists libpq 2>/dev/null || missing+=(libpq-dev pkg-config)
bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The compliance gate reads debtors' time zones (Foundation reads the system's zone database).
[ -e /usr/share/zoneinfo/Europe/Paris ] || missing+=(tzdata)
if [ "$(id -u)" = 0 ]; then
  command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
  id postgres >/dev/null 2>&1 || missing+=(postgresql)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
# shellcheck disable=SC2207
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing ${missing[*]}. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
