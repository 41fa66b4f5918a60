# Fulcrum — every command a developer or CI needs. See README.md.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.Version=$(VERSION)
DATA_DIR ?= ./fulcrum-data
LISTEN   ?= 127.0.0.1:7799

.PHONY: build test test-race lint bench run clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/fulcrum ./cmd/fulcrum

# Every test, including the black-box ones that start bin/fulcrum as a real process.
test: build
	FULCRUM_BIN=$(CURDIR)/bin/fulcrum $(GO) test -count=1 -timeout 20m ./...

test-race: build
	FULCRUM_BIN=$(CURDIR)/bin/fulcrum $(GO) test -race -count=1 -timeout 30m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Go micro-benchmarks; results and commands are recorded in bench/RESULTS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

run: build
	./bin/fulcrum serve --listen $(LISTEN) --data-dir $(DATA_DIR) --log-format console

clean:
	rm -rf bin
