# lora-squeeze — build, test and run. Every target installs what it needs on a fresh Debian machine.
SHELL := /bin/bash
SWIFT ?= swift
DATA ?= ./data
PORT ?= 8080
SYSTEM_PACKAGES := libopenblas-dev liblapacke-dev libsqlite3-dev libpq-dev libssl-dev pkg-config openssl curl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps pydeps build release test test-python test-python-train experiment screenshots tsan contract crash-test interop fuzz run demo bench bench-http bench-service bench-flood bench-auth bench-hub bench-merge bench-fleet bench-dashboard deploy-lint deploy-check clean

# Installs the system libraries the package links (OpenBLAS, LAPACKE, SQLite, libpq, OpenSSL) when missing.
deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product lora-squeeze

# Python packages for the checks (the reference safetensors reader, numpy, an OpenAPI 3.1 validator), from PyPI.
pydeps:
	@python3 -c 'import numpy, safetensors, openapi_spec_validator' 2>/dev/null \
	  || python3 -m pip install -q numpy safetensors openapi-spec-validator

# The test command (README, CI): every Swift Testing suite (the catalog's suites twice: on SQLite, then
# on a throwaway PostgreSQL cluster, Tests/Postgres/with-cluster.sh), the interop and OpenAPI checks,
# the Python client against a real server (clients/python/test.sh: mypy --strict, pytest),
# the contract test (schemathesis against the served spec, 60 examples an operation; `make contract`
# runs 100), the Hub protocol with three
# huggingface_hub versions (Tests/Hub), three replicas on one PostgreSQL (Tests/Fleet), the dashboard
# in headless Chromium (Tests/Dashboard), 20
# crash-test cycles, the deployment files (Deploy/check.sh),
# then every fuzz target for 20 s (Fuzz/README.md). SwiftPM leaves TemporaryDirectory.* folders in TMPDIR on every
# build and test run; they, and the tests' own temporary directories, go to .build/tmp instead of /tmp.
# The HTTP server's suites still run on their own: their timeouts are real (a 2 s body timeout), and
# with ~500 other tests starting at once on 2 cores a handler task can wait past them (seen in a fresh
# clone although 3 local single runs passed); everything else the service does is off the cooperative
# threads now.
SWIFT_TMP := $(CURDIR)/.build/tmp
# Each step prints its duration (Tests/timed.sh), so a CI log says where the minutes went.
STEP := bash Tests/timed.sh
test: deps pydeps
	@mkdir -p $(SWIFT_TMP)
	TMPDIR=$(SWIFT_TMP) $(STEP) build $(SWIFT) build --build-tests
	TMPDIR=$(SWIFT_TMP) $(STEP) swift-tests $(SWIFT) test --skip-build --skip HTTPServerTests
	TMPDIR=$(SWIFT_TMP) $(STEP) http-tests $(SWIFT) test --skip-build --filter HTTPServerTests
	TMPDIR=$(SWIFT_TMP) $(STEP) postgres-tests bash Tests/Postgres/with-cluster.sh $(SWIFT) test --skip-build --filter 'StoreTests\.(AdapterCatalog|Postgres)'
	$(STEP) interop python3 Tests/Interop/check_interop.py .build/debug/lora-squeeze
	$(STEP) openapi python3 Tests/Interop/check_openapi.py Sources/Service/Resources/openapi.json
	$(STEP) python-client bash clients/python/test.sh .build/debug/lora-squeeze
	CONTRACT_EXAMPLES=60 $(STEP) contract bash Tests/Contract/run.sh .build/debug/lora-squeeze
	$(STEP) hub bash Tests/Hub/run.sh .build/debug/lora-squeeze
	$(STEP) fleet bash Tests/Postgres/with-cluster.sh python3 Tests/Fleet/e2e_fleet.py .build/debug/lora-squeeze
	$(STEP) dashboard bash Tests/Dashboard/run.sh .build/debug/lora-squeeze
	$(STEP) crash python3 Tests/Crash/crash_test.py --binary .build/debug/lora-squeeze --cycles 20
	$(STEP) deploy-lint bash Deploy/check.sh
	$(STEP) fuzz bash Fuzz/run.sh 20
	@rm -rf $(SWIFT_TMP)/TemporaryDirectory.*

# The model checks in Python with torch, transformers and PEFT (a virtualenv Tests/Hub/run.sh makes
# once; part of `make test` too): PEFT loads squeezed adapters by name, and merged checkpoints loaded
# with from_pretrained (a file download and /hub/merged-r8) give the same logits as the base with the
# squeezed adapter applied through PEFT.
test-python: build
	HUB_CLIENTS=0 HUB_VLLM=0 bash Tests/Hub/run.sh .build/debug/lora-squeeze

# The Python package's rank annealer (clients/python/tests/test_anneal.py) with torch, PEFT and
# transformers, in a virtualenv clients/python/test.sh makes once (.build/py-train); about 1.5 minutes.
# The client's own tests need none of them and run in `make test`.
test-python-train: build
	bash clients/python/test.sh .build/debug/lora-squeeze train

# The paper's claim, reproduced small on CPU (experiments/paper-small/README.md): a release build, then
# the experiment in the same virtualenv as test-python-train.
experiment: release
	bash experiments/paper-small/run.sh .build/release/lora-squeeze

# Every dashboard page at 1280×800 and 390×844 into docs/screenshots/ (the README shows them), taken
# by the browser test's own run (Tests/Dashboard/run.sh: headless Chromium, a seeded server).
screenshots: build
	bash Tests/Dashboard/run.sh .build/debug/lora-squeeze --screenshots docs/screenshots

# Every suite under ThreadSanitizer (slow: a separate build in .build-tsan; not part of CI's run).
tsan: deps
	@mkdir -p $(SWIFT_TMP)
	TMPDIR=$(SWIFT_TMP) $(SWIFT) test --sanitize=thread --scratch-path .build-tsan --skip HTTPServerTests
	# One suite at a time: the HTTP suites hold real timeouts (2 s), and under TSan's slowdown on two
	# cores, suites run side by side starve each other's handler tasks past them.
	TMPDIR=$(SWIFT_TMP) $(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter HTTPServerTests --no-parallel

# schemathesis against the served /openapi.json with every check (Tests/Contract/run.sh).
contract: build
	bash Tests/Contract/run.sh .build/debug/lora-squeeze

# The crash test on the release build: CYCLES kill/restart cycles (default 20), then the bit-flip and
# disk-full cases (Tests/Crash/README.md). The README quotes CYCLES=500.
crash-test: release
	python3 Tests/Crash/crash_test.py --binary .build/release/lora-squeeze --cycles $(or $(CYCLES),20)

# Outputs read back by the reference safetensors implementation, as PEFT and vLLM read them,
# and checked against numpy's SVD.
interop: pydeps
	$(SWIFT) build --product lora-squeeze
	python3 Tests/Interop/check_interop.py .build/debug/lora-squeeze

# Every fuzz target, SECONDS each (default 60): make fuzz SECONDS=600
fuzz:
	bash Fuzz/run.sh $(or $(SECONDS),60)

# The run command (README): the service on its embedded default (SQLite and blobs under ./data, port 8080).
run: release
	.build/release/lora-squeeze serve --data $(DATA) --port $(PORT)

# A demo adapter written under $(DATA)/demo and squeezed by the CLI.
demo: release
	.build/release/lora-squeeze demo --data $(DATA)

# The squeeze benchmark (release build; prints figures, asserts nothing). See Benchmarks/README.md.
bench: release
	bash Benchmarks/squeeze.sh

# HTTP server against nginx with wrk (installs both); see Benchmarks/http.
bench-http:
	bash Benchmarks/http/run.sh

# Upload → squeeze → download of the Gemma-2B-shaped adapter over loopback; see Benchmarks/README.md.
bench-service: release
	bash Benchmarks/service.sh

# 200 distinct squeezes and 50 uploads from 10 clients at once; see Benchmarks/README.md.
bench-flood: release
	bash Benchmarks/flood.sh

# Auth on against --auth off, same binary, alternating wrk rounds; see Benchmarks/README.md.
bench-auth: release
	bash Benchmarks/auth.sh

# huggingface_hub's snapshot_download from /hub/r16, cold and warm, against nginx; see Benchmarks/README.md.
bench-hub: release
	bash Benchmarks/hub.sh

# Merged checkpoints of a Gemma-2B-shaped bf16 base (cold, cached, against cp) and extraction against dense SVD,
# PEFT and mergekit; builds a clean copy of HEAD itself. See Benchmarks/README.md.
bench-merge: deps pydeps
	bash Benchmarks/merge.sh

# SQLite against PostgreSQL (fsync off and on), 1 and 3 replicas: cached downloads, cold squeezes, catalog operations; see Benchmarks/README.md.
bench-fleet: release
	bash Benchmarks/fleet.sh

# Every dashboard page with 10,000 adapters, server-side (Server-Timing) against 50 ms; own release build in .build-bench; see Benchmarks/README.md.
bench-dashboard: deps
	bash Benchmarks/dashboard.sh

# The deployment files, offline: hadolint, both kustomize overlays against the Kubernetes schemas, the systemd unit (Deploy/README.md).
deploy-lint:
	bash Deploy/check.sh

# The image's runtime stage in a debootstrapped Debian root, serving a real squeeze (root; Deploy/README.md).
deploy-check: deps
	bash Deploy/check-runtime.sh

clean:
	rm -rf .build
