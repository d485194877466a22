# kmipd — see README.md. Every target is phony: make is a task runner here.
GO       ?= go
DATA_DIR ?= ./var
FUZZTIME ?= 30s
COUNT    ?= 10
BASE     ?= main
DURATION ?= 3s
CONNS    ?= 1,4,16
HSMLIMIT ?=
OPS      ?=
REPS     ?=
PAIRS    ?=
LOCATE_KEYS ?=
AB_BASE  ?=
AB_OP    ?= create
AB_CONNS ?= 16
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
GOVULNCHECK   ?= $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.1.4
BENCHSTAT     ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# The tests find SoftHSM here; KMIPD_REQUIRE_HSM turns a missing HSM into a
# failure instead of a skip, so CI can never pass silently.
SOFTHSM_MODULE ?= $(firstword $(wildcard /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so))
TEST_ENV = KMIPD_REQUIRE_HSM=1 KMIPD_TEST_PKCS11_MODULE=$(SOFTHSM_MODULE)

.PHONY: all build run test test-short race fuzz bench bench-server ab-server benchcmp lint deps vet vuln generate cover certs conformance clean

all: lint test build

build:
	$(GO) build -o bin/kmipd ./cmd/kmipd

run: build
	./bin/kmipd dev --data-dir $(DATA_DIR)

test: deps
	@test -n "$(SOFTHSM_MODULE)" || { echo "make test: libsofthsm2.so not found; install it: apt-get install -y softhsm2" >&2; exit 1; }
	$(TEST_ENV) $(GO) test -race -count=1 -timeout 12m ./...

test-short:
	$(GO) test -short -count=1 ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./ttlv
	$(GO) test -run '^$$' -fuzz '^FuzzReadMessage$$' -fuzztime $(FUZZTIME) ./ttlv
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalXML$$' -fuzztime $(FUZZTIME) ./ttlv
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalJSON$$' -fuzztime $(FUZZTIME) ./ttlv
	$(GO) test -run '^$$' -fuzz '^FuzzHandleMessage$$' -fuzztime $(FUZZTIME) ./kmip
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./pkcs12
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME) ./objects
	$(TEST_ENV) $(GO) test -run '^$$' -fuzz '^FuzzServeMessage$$' -fuzztime $(FUZZTIME) ./service

bench:
	$(TEST_ENV) $(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./ttlv ./objects ./kmip | tee bench.out

# bench-server: a fresh `kmipd dev` measured by `kmipd bench`; with
# HSMLIMIT=<dir of the hsmlimit tool>, SoftHSM's own limit first and, after
# the table, PAIRS interleaved pairs of SoftHSM and kmipd Encrypt windows.
bench-server:
	DURATION=$(DURATION) CONNS=$(CONNS) OPS=$(OPS) REPS=$(REPS) PAIRS=$(PAIRS) LOCATE_KEYS=$(LOCATE_KEYS) HSMLIMIT=$(HSMLIMIT) scripts/bench-server.sh

# ab-server AB_BASE=<git ref>: that version against the working tree on one
# operation (AB_OP, AB_CONNS), in PAIRS (default 5) interleaved pairs of
# fresh servers.
ab-server:
	@test -n "$(AB_BASE)" || { echo "make ab-server: AB_BASE is not set; give a git ref, e.g. make ab-server AB_BASE=HEAD~3" >&2; exit 2; }
	OP=$(AB_OP) CONNS=$(AB_CONNS) PAIRS=$(or $(PAIRS),5) DURATION=$(DURATION) scripts/ab-server.sh $(AB_BASE)

# benchcmp BASE=<git ref>: benchstat of BASE against the working tree.
benchcmp:
	rm -rf /tmp/kmipd-base && git worktree add -f /tmp/kmipd-base $(BASE)
	(cd /tmp/kmipd-base && $(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./ttlv) > /tmp/kmipd-base.out
	$(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./ttlv > /tmp/kmipd-head.out
	git worktree remove --force /tmp/kmipd-base
	$(BENCHSTAT) /tmp/kmipd-base.out /tmp/kmipd-head.out

deps:
	./scripts/check-deps.sh

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi

lint: deps vet
	$(GOLANGCI_LINT) run ./...

vuln:
	$(GOVULNCHECK) ./...

generate:
	$(GO) generate ./...
	git diff --exit-code -- '*_generated.go' || { echo "make generate: generated files differ from the committed ones" >&2; exit 1; }

cover:
	$(TEST_ENV) $(GO) test -count=1 -coverprofile=cover.out ./...
	$(GO) tool cover -html=cover.out -o cover.html

certs:
	$(GO) run ./certs/generate_dev.go -dir $(DATA_DIR)/certs

conformance: build
	$(TEST_ENV) KMIPD_CONFORMANCE_ALL=1 KMIPD_CONFORMANCE_REPORT=$(CURDIR)/CONFORMANCE.md $(GO) test -count=1 -run TestConformance -timeout 30m ./conformance/

clean:
	rm -rf bin cover.out cover.html bench.out
