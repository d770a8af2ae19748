# Atalaya — the commands a developer and CI use. Every target works on a fresh machine with a
# Rust toolchain and access to crates.io.

SHELL := /bin/bash
CARGO ?= cargo
ATALAYA := target/debug/atalaya
TARGET_BIN := target/debug/atalaya-target

.PHONY: run probe demo test lint unit bench schema build help

help:
	@echo "make run     the runner on local demo targets (examples/demo.yaml) until Ctrl-C"
	@echo "make probe   probe every check of examples/demo.yaml once"
	@echo "make demo    a local shop goes down and comes back: the whole incident conversation (~45 s)"
	@echo "make test    lint + the whole test suite"
	@echo "make bench   the probe-engine benchmark (release build), see docs/performance.md"
	@echo "make schema  regenerate docs/atalaya.schema.json"

build:
	$(CARGO) build -p atalaya-cli -p atalaya-tests --bins

DEMO_TARGETS := --http 127.0.0.1:8080 --https 127.0.0.1:8443 --dns 127.0.0.1:5353 --banner 127.0.0.1:2222

# The main job, locally: starts the demo targets on 127.0.0.1 (HTTP 8080, HTTPS 8443, DNS 5353,
# banner 2222) and runs `atalaya run examples/demo.yaml` until Ctrl-C: incidents open for the
# broken demo services and operators and customers hear about them. Nothing leaves the machine.
run: build
	@$(TARGET_BIN) $(DEMO_TARGETS) > /tmp/atalaya-target.$$$$ & \
	  pid=$$!; trap "kill $$pid 2>/dev/null; rm -f /tmp/atalaya-target.$$$$" EXIT; \
	  for i in $$(seq 50); do [ $$(wc -l < /tmp/atalaya-target.$$$$) -ge 4 ] && break; kill -0 $$pid 2>/dev/null || exit 1; sleep 0.1; done; \
	  $(ATALAYA) run examples/demo.yaml --db atalaya.db --outbox outbox.jsonl

# Probes every check of examples/demo.yaml once and prints the results.
probe: build
	@$(TARGET_BIN) $(DEMO_TARGETS) > /tmp/atalaya-target.$$$$ & \
	  pid=$$!; trap "kill $$pid 2>/dev/null; rm -f /tmp/atalaya-target.$$$$" EXIT; \
	  for i in $$(seq 50); do [ $$(wc -l < /tmp/atalaya-target.$$$$) -ge 4 ] && break; kill -0 $$pid 2>/dev/null || exit 1; sleep 0.1; done; \
	  $(ATALAYA) validate examples/demo.yaml && $(ATALAYA) validate --target lambda examples/checks.yaml && \
	  $(ATALAYA) probe examples/demo.yaml

# A local target whose /demo path fails from 6 s to 26 s after start; `atalaya run` watches it
# with 2 s intervals: operators and customers (Spanish and English) hear the whole story.
demo: build
	@rm -f /tmp/atalaya-demo.db /tmp/atalaya-demo.db-wal /tmp/atalaya-demo.db-shm /tmp/atalaya-demo.jsonl
	@$(TARGET_BIN) --http 127.0.0.1:8080 --outage 6s:20s > /dev/null & \
	  pid=$$!; trap "kill $$pid 2>/dev/null" EXIT; sleep 0.5; \
	  timeout -s INT 45 $(ATALAYA) run examples/demo-outage.yaml --db /tmp/atalaya-demo.db --outbox /tmp/atalaya-demo.jsonl; \
	  echo; echo "Outbox (what SNS would receive): /tmp/atalaya-demo.jsonl, $$(wc -l < /tmp/atalaya-demo.jsonl) messages"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

# The local AWS endpoint (design.md): moto_server, pinned, in a virtualenv made on first use.
VENV := .venv
MOTO := $(VENV)/bin/moto_server
MOTO_VERSION := 5.2.5

$(MOTO):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "moto[server]==$(MOTO_VERSION)"

# The whole suite, with one moto_server on a free loopback port for the AWS tests.
unit: $(MOTO)
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  tests/with-moto.sh $(MOTO) $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  echo "cargo-nextest not found: running cargo test"; tests/with-moto.sh $(MOTO) $(CARGO) test --workspace --no-fail-fast; \
	fi

test: lint unit

bench:
	$(CARGO) build --release -p atalaya-tests -p atalaya-probe-fn --bin atalaya-bench --bin atalaya-target --bin atalaya-coldstart --bin atalaya-probe-fn
	target/release/atalaya-bench --target-bin target/release/atalaya-target --runs 7
	target/release/atalaya-coldstart target/release/atalaya-probe-fn examples/checks.yaml 30

schema: build
	$(ATALAYA) schema > docs/atalaya.schema.json
