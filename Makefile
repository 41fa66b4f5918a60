# Fulcrum — every command a developer or CI needs. See README.md.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.Version=$(VERSION)
DATA_DIR ?= ./fulcrum-data
LISTEN   ?= 127.0.0.1:7799

.PHONY: build test test-race lint bench run clean kafka-up kafka-down etcd-up etcd-down

# The local Kafka (cmd/kafkalocal: KRaft, 1 controller + 3 brokers on 3 racks, 2 log dirs each,
# jars from Maven Central cached in ~/.cache/fulcrum) for make run lives in KAFKA_DIR; make test
# starts its own in KAFKA_TEST_DIR, so tests never touch the one make run uses: 6 brokers on
# 3 racks, so that the rack and drain tests have more brokers than racks.
KAFKA_DIR          ?= .kafka
KAFKA_TEST_DIR     ?= .kafka-test
KAFKA_TEST_BROKERS ?= 6
KAFKA_TEST_RACKS   ?= 3
KAFKALOCAL         := bin/kafkalocal

# schemathesis (PyPI, pinned) checks the API against httpapi/openapi.json in make test
# (cmd/fulcrum TestSchemathesis); it is installed into a venv under bin/ on first use.
SCHEMATHESIS_VERSION ?= 4.32.5
SCHEMATHESIS_VENV    := bin/schemathesis-$(SCHEMATHESIS_VERSION)
SCHEMATHESIS         := $(SCHEMATHESIS_VENV)/bin/schemathesis
CHROMIUM             := /usr/bin/chromium
# axe-core (npm, pinned) audits the dashboard's accessibility in make test (cmd/fulcrum
# TestDashboard injects it into the page); it is installed under bin/ on first use.
AXE_VERSION ?= 4.14.1
AXE_DIR     := bin/axe-core-$(AXE_VERSION)
AXE         := $(AXE_DIR)/node_modules/axe-core/axe.min.js

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/fulcrum ./cmd/fulcrum

$(KAFKALOCAL): FORCE
	$(GO) build -o $(KAFKALOCAL) ./cmd/kafkalocal
FORCE:

# with-kafka starts a fresh test Kafka, exports its bootstrap list to the tests, and stops it
# and removes its data when the recipe ends, whether the tests pass, fail or are interrupted.
# If Kafka cannot start, the recipe fails with the brokers' logs: the tests are never skipped.
with-kafka = set -e; \
	trap '$(KAFKALOCAL) down --dir $(KAFKA_TEST_DIR)' EXIT; trap 'exit 130' INT TERM; \
	FULCRUM_TEST_KAFKA_BOOTSTRAP=$$($(KAFKALOCAL) up --dir $(KAFKA_TEST_DIR) --brokers $(KAFKA_TEST_BROKERS) --racks $(KAFKA_TEST_RACKS)); export FULCRUM_TEST_KAFKA_BOOTSTRAP; \
	FULCRUM_TEST_KAFKA_DIR=$(CURDIR)/$(KAFKA_TEST_DIR); export FULCRUM_TEST_KAFKA_DIR;

# The local etcd (cmd/etcdlocal: 3 members on loopback, one process each) for the etcd
# backend's tests. with-etcd starts a fresh one in ETCD_TEST_DIR, exports its endpoints and
# dir to the tests, and stops it and removes its data when the recipe ends; if it cannot
# start, the recipe fails: the tests are never skipped. Its EXIT trap replaces with-kafka's,
# so it stops that Kafka too (and etcd even if stopping Kafka fails): use it after with-kafka.
ETCD_TEST_DIR ?= .etcd-test
ETCDLOCAL     := bin/etcdlocal

$(ETCDLOCAL): FORCE
	$(GO) build -o $(ETCDLOCAL) ./cmd/etcdlocal

with-etcd = set -e; trap 'st=$$?; $(KAFKALOCAL) down --dir $(KAFKA_TEST_DIR) || st=1; $(ETCDLOCAL) down --dir $(ETCD_TEST_DIR) || st=1; exit $$st' EXIT; \
	FULCRUM_TEST_ETCD_ENDPOINTS=$$($(ETCDLOCAL) up --dir $(ETCD_TEST_DIR)); export FULCRUM_TEST_ETCD_ENDPOINTS; \
	FULCRUM_TEST_ETCD_DIR=$(CURDIR)/$(ETCD_TEST_DIR); export FULCRUM_TEST_ETCD_DIR;

# Every test, including the black-box ones that start bin/fulcrum as a real process and the
# balancer's integration tests against a real local Kafka.
test: build $(KAFKALOCAL) $(ETCDLOCAL) $(SCHEMATHESIS) $(CHROMIUM) $(AXE)
	@$(with-kafka) $(with-etcd) FULCRUM_BIN=$(CURDIR)/bin/fulcrum FULCRUM_SCHEMATHESIS=$(CURDIR)/$(SCHEMATHESIS) FULCRUM_AXE=$(CURDIR)/$(AXE) $(GO) test -count=1 -timeout 20m ./...

test-race: build $(KAFKALOCAL) $(ETCDLOCAL) $(SCHEMATHESIS) $(CHROMIUM) $(AXE)
	@$(with-kafka) $(with-etcd) FULCRUM_BIN=$(CURDIR)/bin/fulcrum FULCRUM_SCHEMATHESIS=$(CURDIR)/$(SCHEMATHESIS) FULCRUM_AXE=$(CURDIR)/$(AXE) $(GO) test -race -count=1 -timeout 30m ./...

# Start the local Kafka for make run (or anything else) and write $(KAFKA_DIR)/bootstrap; a
# cluster already running there is reused. KAFKA_BROKERS and KAFKA_RACKS shape a new one
# (3 on 3 by default): make run KAFKA_BROKERS=6 KAFKA_RACKS=3.
kafka-up: $(KAFKALOCAL)
	$(KAFKALOCAL) up --dir $(KAFKA_DIR) $(if $(KAFKA_BROKERS),--brokers $(KAFKA_BROKERS)) $(if $(KAFKA_RACKS),--racks $(KAFKA_RACKS))

# Stop it and remove its data.
kafka-down: $(KAFKALOCAL)
	$(KAFKALOCAL) down --dir $(KAFKA_DIR)

# A new venv each time the pinned version is not there yet.
$(SCHEMATHESIS):
	rm -rf $(SCHEMATHESIS_VENV) && mkdir -p bin
	python3 -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)

# Debian's chromium (CHROMIUM, defined at the top: a prerequisite list is expanded when
# make reads it) drives the dashboard's browser test (cmd/fulcrum TestDashboard, through
# chromedp) in make test; it is installed with apt-get on first use (we run as root).
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

.PHONY: chromium
chromium: $(CHROMIUM)

# axe-core (AXE, defined at the top) into a directory of its own per pinned version, with
# npm from the npm registry (npm itself from Debian if missing); it has no dependencies and
# runs no install script.
$(AXE):
	command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y npm || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm)
	rm -rf $(AXE_DIR) && mkdir -p $(AXE_DIR)
	npm install --prefix $(AXE_DIR) --no-save --no-audit --no-fund --ignore-scripts --loglevel=error axe-core@$(AXE_VERSION)
	test -s $@

.PHONY: axe
axe: $(AXE)

# staticcheck is pinned and installed into bin/ from the Go module proxy on first use.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         := bin/staticcheck-$(STATICCHECK_VERSION)

$(STATICCHECK):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin/.staticcheck $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv bin/.staticcheck/staticcheck $@ && rmdir bin/.staticcheck

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Go micro-benchmarks, then the HTTP load suite (bench/loadgen) against a fresh Fulcrum on a
# temp data dir: it rewrites the loadgen block of bench/RESULTS.md and the latency plot.
# Every client asks for gzip, as coordinators do. BENCH_D sets each scenario's length;
# KAFKA_BOOTSTRAP, if set, enables the balancer scenario. The placement runs (reads and
# durable writes on fresh servers: pinned with the server on BENCH_PIN_SERVER and the load
# generator on BENCH_PIN_LOADGEN, pinned with one P, and unpinned) are repeated
# BENCH_PINNED_ROUNDS times, interleaved; an empty BENCH_PIN_SERVER skips them.
BENCH_D ?= 10s
BENCH_PINNED_ROUNDS ?= 2
BENCH_PIN_SERVER ?= 0
BENCH_PIN_LOADGEN ?= 1
bench: build
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./... > bin/gobench.txt; st=$$?; cat bin/gobench.txt; exit $$st
	$(MAKE) bench-load BENCH_GOBENCH=bin/gobench.txt
	$(MAKE) bench-etcd
	$(MAKE) bench-kafka

.PHONY: bench-load bench-scale

# Only the HTTP load suite (about five minutes at BENCH_D=10s, the placement runs included).
bench-load: build
	$(GO) build -o bin/loadgen ./bench/loadgen
	./bin/loadgen suite -fulcrum bin/fulcrum -d $(BENCH_D) -pinned-rounds $(BENCH_PINNED_ROUNDS) \
		-pin-server '$(BENCH_PIN_SERVER)' -pin-loadgen '$(BENCH_PIN_LOADGEN)' $(if $(BENCH_GOBENCH),-gobench $(BENCH_GOBENCH)) $(if $(KAFKA_BOOTSTRAP),-kafka-bootstrap $(KAFKA_BOOTSTRAP))

# The broker on a local 3-member etcd (bin/etcdlocal, started and stopped by it) beside
# bbolt: reads, mutations and durable writes at 64 clients on bbolt, on the etcd leader and
# on an etcd follower (about two minutes at BENCH_D=10s; rewrites the loadgen-etcd block of
# bench/RESULTS.md).
.PHONY: bench-etcd
bench-etcd: build $(ETCDLOCAL)
	$(GO) build -o bin/loadgen ./bench/loadgen
	./bin/loadgen etcd -fulcrum bin/fulcrum -etcdlocal $(ETCDLOCAL) -d $(BENCH_D)

# Fulcrum's plans beside kafka-reassign-partitions --generate on three skewed layouts of a
# local 6-broker, 3-rack Kafka that it starts and stops (about two minutes; rewrites the
# kafka-compare block of bench/RESULTS.md).
.PHONY: bench-kafka
bench-kafka: build
	$(GO) build -o bin/kafkacompare ./bench/kafkacompare
	./bin/kafkacompare -fulcrum bin/fulcrum -results bench/RESULTS.md

# 10,000 clusters: RSS and cold start-up against the BRIEF targets (rewrites the
# loadgen-scale block of bench/RESULTS.md).
bench-scale: build
	$(GO) build -o bin/loadgen ./bench/loadgen
	./bin/loadgen scale -fulcrum bin/fulcrum

# A local 3-member etcd (cmd/etcdlocal) in ETCD_DIR for trying HA by hand: etcd-up prints
# its endpoints (a cluster already running there is reused); etcd-down stops it and removes
# its data.
ETCD_DIR ?= .etcd
etcd-up: $(ETCDLOCAL)
	$(ETCDLOCAL) up --dir $(ETCD_DIR)

etcd-down: $(ETCDLOCAL)
	$(ETCDLOCAL) down --dir $(ETCD_DIR)

# Serve with the local Kafka (started if needed, left running: make kafka-down stops it),
# unless FULCRUM_KAFKA_BOOTSTRAP names another one. The state is in bbolt under DATA_DIR,
# unless FULCRUM_ETCD_ENDPOINTS (and FULCRUM_ETCD_PREFIX, FULCRUM_ADVERTISE_ADDR) are set:
# fulcrum serve reads them from the environment.
run: build
	@if [ -z "$$FULCRUM_KAFKA_BOOTSTRAP" ]; then $(MAKE) --no-print-directory kafka-up >/dev/null || exit 1; fi; \
	bootstrap=$${FULCRUM_KAFKA_BOOTSTRAP:-$$(cat $(KAFKA_DIR)/bootstrap)}; \
	echo "fulcrum: Kafka at $$bootstrap"; \
	if [ -n "$$FULCRUM_ETCD_ENDPOINTS" ]; then echo "fulcrum: state in etcd at $$FULCRUM_ETCD_ENDPOINTS"; fi; \
	exec ./bin/fulcrum serve --listen $(LISTEN) --data-dir $(DATA_DIR) --log-format console --kafka-bootstrap "$$bootstrap"

clean:
	rm -rf bin
