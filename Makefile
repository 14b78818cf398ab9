# Pilotdesk: the Makefile is the index of everything a developer runs.
#   make dev    run the whole system locally (stand-ins, simulators, the three functions)
#   make test   run every test (race detector on; starts its own stand-ins)
#   make bench  run the benchmarks and print the figures
#   make lint   gofmt, go vet, staticcheck, cfn-lint
#   make build  build the three Lambda bootstraps into build/<LogicalId>/bootstrap
# SAM (BuildMethod: makefile) calls the build-<LogicalId> targets with ARTIFACTS_DIR set.

SHELL := /bin/bash
GO ?= go
GOOS ?= linux
GOARCH ?= arm64
ARTIFACTS_DIR ?= build/$*

# Pinned tool versions.
RIE_VERSION ?= v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION ?= v0.8.2

# Extra build tags for the bootstraps (GOTAGS=pilotdesk_pprof: CPU profiles in the temp dir, lab only).
GOTAGS ?=
# Linker flags of the bootstraps (GO_LDFLAGS= keeps the symbol table, for perf).
GO_LDFLAGS ?= -s -w

BIN := $(CURDIR)/bin
RIE := $(BIN)/aws-lambda-rie
STATICCHECK := $(BIN)/staticcheck
FUNCTIONS := SchedulerFunction SyncWorkerFunction HelpdeskWebhookFunction

pkg_SchedulerFunction := ./functions/scheduler
pkg_SyncWorkerFunction := ./functions/worker
pkg_HelpdeskWebhookFunction := ./functions/webhook

TEST_TIMEOUT ?= 45m
TEST_FLAGS ?= -race -count=1 -timeout $(TEST_TIMEOUT)

.PHONY: all build test dev bench lint clean tools deps moto-check fuzz $(addprefix build-,$(FUNCTIONS))

all: build

deps:
	$(GO) mod download

tools: $(RIE) $(STATICCHECK)

$(RIE):
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# build-<LogicalId>: what `sam build` runs. GOARCH stays overridable so the same targets feed
# the local runtime on an amd64 machine: make build-SyncWorkerFunction ARTIFACTS_DIR=dir GOARCH=amd64
$(addprefix build-,$(FUNCTIONS)): build-%:
	@test -n "$(pkg_$*)" || { echo "unknown function $*" >&2; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)"
	GOOS=$(GOOS) GOARCH=$(GOARCH) CGO_ENABLED=0 $(GO) build -tags "lambda.norpc $(GOTAGS)" -trimpath \
		-ldflags "$(GO_LDFLAGS)" -o "$(ARTIFACTS_DIR)/bootstrap" $(pkg_$*)

build: $(addprefix build-,$(FUNCTIONS))
	@ls -l build/*/bootstrap

# The stand-ins (moto, aws-lambda-rie) are started by the tests themselves, on free loopback
# ports, and stopped by PID; this target only makes sure the binaries are there.
test: deps tools moto-check
	PILOTDESK_RIE=$(RIE) $(GO) test $(TEST_FLAGS) ./...

moto-check:
	@$(GO) run ./cmd/pilotdesk-dev ensure-moto

# Built, not `go run`: go run exits 1 after Ctrl-C whatever the program returns.
DEV_FLAGS ?=
dev: deps tools moto-check
	$(GO) build -o $(BIN)/pilotdesk-dev ./cmd/pilotdesk-dev
	PILOTDESK_RIE=$(RIE) $(BIN)/pilotdesk-dev run $(DEV_FLAGS)

# Micro-benchmarks of the packages, then the end-to-end ones (one run each: they start the
# whole system) that report helpdesk calls per review, reviews/s against the rate-limited
# simulator, CPU per review, cold start, and the webhook's ack latency.
bench: deps tools moto-check
	set -o pipefail; { $(GO) test -run '^$$' -bench . -benchmem -count=1 ./pkg/... ./lab/... && \
	  PILOTDESK_RIE=$(RIE) $(GO) test -run '^$$' -bench . -benchtime 1x -count=1 -timeout 90m ./test/...; } | tee bench.out

FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint: tools
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cfn-lint template.yaml

clean:
	rm -rf build .aws-sam bench.out
