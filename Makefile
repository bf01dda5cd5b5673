# Relance: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
STATE ?= $(CURDIR)/.relance
DEV_PG_PORT ?= 54329
SWIFT_BUILD_FLAGS ?=
BIN = $(shell swift build $(SWIFT_BUILD_FLAGS) --show-bin-path 2>/dev/null)/relance

.PHONY: run test check build deps db-stop db-reset bench help

help:
	@echo "make run    build, start a private PostgreSQL under .relance/, migrate, serve HTTPS on :8443"
	@echo "make test   run every test against a throwaway PostgreSQL"
	@echo "make check  fuzz the served API with schemathesis on a throwaway PostgreSQL (a few minutes)"
	@echo "make db-stop  stop the development PostgreSQL"
	@echo "make db-reset delete the development database and demo credentials"

deps:
	@scripts/deps.sh

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

# The embedded PostgreSQL is used unless RELANCE_DATABASE_URL is set.
run: build
	@set -euo pipefail; \
	if [ -z "$${RELANCE_DATABASE_URL:-}" ]; then \
	  envlines=$$(scripts/pg-cluster.sh start $(STATE)/pg $(DEV_PG_PORT)); \
	  set -a; eval "$$envlines"; set +a; \
	  echo "PostgreSQL: private cluster in $(STATE)/pg on 127.0.0.1:$(DEV_PG_PORT) (stop: make db-stop)"; \
	fi; \
	scripts/dev-cert.sh $(STATE)/tls; \
	[ -s $(STATE)/data-key ] || (umask 077; openssl rand -base64 32 > $(STATE)/data-key); \
	export RELANCE_DATA_KEY=$${RELANCE_DATA_KEY:-$$(cat $(STATE)/data-key)}; \
	export RELANCE_TLS_CERT=$${RELANCE_TLS_CERT:-$(STATE)/tls/dev-cert.pem} RELANCE_TLS_KEY=$${RELANCE_TLS_KEY:-$(STATE)/tls/dev-key.pem}; \
	export RELANCE_HOME=$(CURDIR); \
	"$(BIN)" migrate; \
	echo; \
	"$(BIN)" demo seed --output $(STATE)/demo-credentials.txt; \
	port=$${RELANCE_PORT:-8443}; \
	echo; \
	echo "Relance is starting on https://localhost:$$port (self-signed development certificate)"; \
	echo "  curl --cacert $$RELANCE_TLS_CERT https://localhost:$$port/health/ready"; \
	echo; \
	exec "$(BIN)" serve

db-stop:
	@scripts/pg-cluster.sh stop $(STATE)/pg

# Deletes the development database (and the demo credentials); the next `make run` starts afresh.
db-reset:
	@scripts/pg-cluster.sh destroy $(STATE)/pg && rm -f $(STATE)/demo-credentials.txt

# A throwaway cluster on a free port, stopped even when the tests fail.
test: deps
	@set -euo pipefail; \
	dir=$$(mktemp -d /tmp/relance-test.XXXXXX); \
	port=$$(scripts/pg-cluster.sh freeport); \
	trap 'scripts/pg-cluster.sh destroy "$$dir"' EXIT; \
	envlines=$$(RELANCE_PG_FSYNC=off scripts/pg-cluster.sh start "$$dir" "$$port"); \
	set -a; eval "$$envlines"; set +a; \
	swift build --build-tests $(SWIFT_BUILD_FLAGS); \
	swift test --skip-build $(SWIFT_BUILD_FLAGS)

# The fuzz run: schemathesis against the served OpenAPI document, as an admin and as a creditor,
# on a throwaway cluster (scripts/check.sh; CHECK_SECONDS per caller, 150 by default).
check: build
	@scripts/check.sh "$(BIN)"

# Benchmarks (release build; figures go to Docs/benchmarks.md). The placement: ROUNDS runs (3 by
# default) of ROWS rows (1000000 by default), each on a fresh cluster, and the medians. The work
# queue: WORK_CASES cases (1000000) held by 200 agents, 32 of them asking for their next case
# over HTTPS for WORK_SECONDS (90), then pgbench on the same statements, and the double-lease check.
ROWS ?= 1000000
ROUNDS ?= 3
WORK_CASES ?= 1000000
WORK_SECONDS ?= 90
bench: deps
	swift build -c release
	ROUNDS=$(ROUNDS) scripts/bench-rounds.sh $(ROWS)
	scripts/bench-work-next.sh $(WORK_CASES) $(WORK_SECONDS)
