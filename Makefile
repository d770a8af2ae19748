# Atalaya — the commands a developer and CI use. Every target works on a fresh machine with a
# Rust toolchain and access to crates.io.

SHELL := /bin/bash
CARGO ?= cargo
ATALAYA := target/debug/atalaya
TARGET_BIN := target/debug/atalaya-target

.PHONY: run test lint unit bench schema build clean-demo help

help:
	@echo "make run     probe local demo targets with examples/demo.yaml"
	@echo "make test    lint + the whole test suite"
	@echo "make bench   the probe-engine benchmark (release build), see docs/performance.md"
	@echo "make schema  regenerate docs/atalaya.schema.json"

build:
	$(CARGO) build -p atalaya-cli -p atalaya-tests --bins

# Starts the demo targets on 127.0.0.1 (HTTP 8080, HTTPS 8443, DNS 5353, banner 2222), validates
# and probes examples/demo.yaml once, and stops the targets.
run: build
	@$(TARGET_BIN) --http 127.0.0.1:8080 --https 127.0.0.1:8443 --dns 127.0.0.1:5353 --banner 127.0.0.1:2222 > /tmp/atalaya-target.$$$$ & \
	  pid=$$!; trap "kill $$pid 2>/dev/null" EXIT; \
	  for i in $$(seq 50); do [ $$(wc -l < /tmp/atalaya-target.$$$$) -ge 4 ] && break; kill -0 $$pid 2>/dev/null || exit 1; sleep 0.1; done; \
	  $(ATALAYA) validate examples/demo.yaml && $(ATALAYA) validate --target lambda examples/checks.yaml && \
	  $(ATALAYA) probe examples/demo.yaml

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

unit:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  echo "cargo-nextest not found: running cargo test"; $(CARGO) test --workspace --no-fail-fast; \
	fi

test: lint unit

bench:
	$(CARGO) build --release -p atalaya-tests --bin atalaya-bench --bin atalaya-target
	target/release/atalaya-bench --target-bin target/release/atalaya-target --runs 7

schema: build
	$(ATALAYA) schema > docs/atalaya.schema.json
