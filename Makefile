# Relance: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
STATE ?= $(CURDIR)/.relance
DEV_PG_PORT ?= 54329
SWIFT_BUILD_FLAGS ?=
BIN = $(shell swift build $(SWIFT_BUILD_FLAGS) --show-bin-path 2>/dev/null)/relance

.PHONY: run test build deps db-start db-stop bench clean-db help

help:
	@echo "make run    build, start a private PostgreSQL under .relance/, migrate, serve HTTPS on :8443"
	@echo "make test   run every test against a throwaway PostgreSQL"
	@echo "make db-stop  stop the development PostgreSQL"

deps:
	@scripts/deps.sh

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

# The embedded PostgreSQL is used unless RELANCE_DATABASE_URL is set.
run: build
	@set -euo pipefail; \
	if [ -z "$${RELANCE_DATABASE_URL:-}" ]; then \
	  set -a; eval "$$(scripts/pg-cluster.sh start $(STATE) $(DEV_PG_PORT))"; set +a; \
	  echo "PostgreSQL: private cluster in $(STATE) on 127.0.0.1:$(DEV_PG_PORT) (stop: make db-stop)"; \
	fi; \
	scripts/dev-cert.sh $(STATE)/tls; \
	export RELANCE_TLS_CERT=$${RELANCE_TLS_CERT:-$(STATE)/tls/dev-cert.pem} RELANCE_TLS_KEY=$${RELANCE_TLS_KEY:-$(STATE)/tls/dev-key.pem}; \
	export RELANCE_HOME=$(CURDIR); \
	"$(BIN)" migrate; \
	port=$${RELANCE_PORT:-8443}; \
	echo; \
	echo "Relance is starting on https://localhost:$$port (self-signed development certificate)"; \
	echo "  curl --cacert $$RELANCE_TLS_CERT https://localhost:$$port/health/ready"; \
	echo; \
	exec "$(BIN)" serve

db-stop:
	@scripts/pg-cluster.sh stop $(STATE)

# A throwaway cluster on a free port, stopped even when the tests fail.
test: deps
	@set -euo pipefail; \
	dir=$$(mktemp -d /tmp/relance-test.XXXXXX); \
	port=$$(scripts/pg-cluster.sh freeport); \
	trap 'scripts/pg-cluster.sh destroy "$$dir"' EXIT; \
	set -a; eval "$$(RELANCE_PG_FSYNC=off scripts/pg-cluster.sh start "$$dir" "$$port")"; set +a; \
	swift build --build-tests $(SWIFT_BUILD_FLAGS); \
	swift test --skip-build $(SWIFT_BUILD_FLAGS)
