# kvharness — see README.md. `make run` runs the default scenario on embedded
# servers; `make test` runs every test with the race detector.

GO            ?= go
BIN           := bin/kvharness
TOOLS         := $(CURDIR)/.tools/bin
# nats-server releases the external-server tests and benchmarks run against:
# the one embedded in the binary and an older one with other CAS error codes.
NATS_CURRENT  := v2.15.2
NATS_OLD      := v2.10.27
NATSCLI       := v0.5.0

.PHONY: build run test test-short fuzz bench soak soak-faults soak-verdicts findings ab-proof trend-proof capacity-proof fleet-proof power-loss-proof whatif lint tools clean

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/kvharness

run: build
	./$(BIN) run $(ARGS)

# Tools are nats-server binaries of two releases (for tests against real,
# separate server processes) and natscli (for `make bench`), built from the
# Go module proxy into .tools/bin once.
SERVERS := $(TOOLS)/nats-server-$(NATS_CURRENT) $(TOOLS)/nats-server-$(NATS_OLD)
tools: $(SERVERS) $(TOOLS)/nats

$(TOOLS)/nats-server-%:
	@mkdir -p $(TOOLS)/tmp-$*
	GOBIN=$(TOOLS)/tmp-$* $(GO) install github.com/nats-io/nats-server/v2@$*
	mv $(TOOLS)/tmp-$*/nats-server $@ && rmdir $(TOOLS)/tmp-$*

$(TOOLS)/nats:
	GOBIN=$(TOOLS) $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI)

test: $(SERVERS)
	KVHARNESS_NATS_SERVER=$(TOOLS)/nats-server-$(NATS_CURRENT) \
	KVHARNESS_NATS_SERVER_OLD=$(TOOLS)/nats-server-$(NATS_OLD) \
	KVHARNESS_REQUIRE_EXTERNAL=1 \
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -race -short ./...

bench: build tools
	./scripts/bench.sh

soak: build tools
	./scripts/soak.sh

# Looks for false alarms: every built-in scenario under every fault kind on
# the current release (spawned nodes), SEEDS runs per cell; prints the table
# and exits 1 on a cell that fails without a known finding to explain it.
# About 45 minutes per seed (104 cells). ARGS passes more flags (-scenarios, -faults).
SEEDS ?= 2
soak-faults: build $(TOOLS)/nats-server-v2.15.2
	$(GO) run ./scripts/faultsoak -bin $(BIN) -server $(TOOLS)/nats-server-v2.15.2 -seeds $(SEEDS) $(ARGS)

# Looks for verdicts that change between runs: every built-in scenario as it
# is built, VERDICT_SEEDS runs each (default 20, about 20 s a run); exits 1 on a run
# that does not pass without a known finding to explain it.
soak-verdicts: build $(TOOLS)/nats-server-v2.15.2
	$(GO) run ./scripts/faultsoak -bin $(BIN) -server $(TOOLS)/nats-server-v2.15.2 -faults as-built -seeds $(or $(VERDICT_SEEDS),20) -duration 10s -out results/soak-verdicts $(ARGS)

# The releases the findings need (docs/FINDINGS.md): those that show each
# bug and those that pass the same run.
FINDINGS_RELEASES := v2.9.20 v2.10.22 v2.10.27 v2.11.0 v2.12.1 v2.15.2

# How far ab's verdicts can be trusted here: AB_REPEATS (20) whole ab
# sessions of three spawned nodes on both sides (A/A, 6 rounds: false
# regressions, at most the 5 % significance level), then AB_CAND_REPEATS
# (10) against a candidate whose routes are slowed for the whole run (A/B,
# 16 rounds, decided again on their first k: how many rounds it takes).
# Each run is 3 s plus its start and checks: about 30 + 37 minutes.
ab-proof: build
	$(GO) run ./scripts/abproof -bin $(BIN) -repeats $(or $(AB_REPEATS),20) -cand-repeats $(or $(AB_CAND_REPEATS),10) \
		-base scripts/abproof/base.yaml -cand scripts/abproof/cand-slow-routes.yaml -rounds 6 -cand-rounds 16 \
		-args "--server-bin $(TOOLS)/nats-server-$(NATS_CURRENT)" $(ARGS)

# Does trend flag a slowdown that lands and stays? 14 nightly-style runs,
# the last 3 slowed (scripts/trendproof.sh), then kvharness trend over them.
trend-proof: build $(TOOLS)/nats-server-$(NATS_CURRENT)
	./scripts/trendproof.sh

# Does the rate capacity finds hold? A search, then plain open-loop runs at
# the rate found and at 1.5 times it (scripts/capacityproof.sh).
capacity-proof: build $(TOOLS)/nats-server-$(NATS_CURRENT)
	./scripts/capacityproof.sh

# What spreading the clients over worker processes costs: the same run with
# its clients local, on 1 worker and on 3, rounds alternating
# (scripts/fleetproof.sh; ROUNDS, DUR, CLIENTS).
fleet-proof: build
	./scripts/fleetproof.sh

# What durability costs: capacity for R1/R3/R5 and file/memory on five
# spawned nodes, one table (scripts/whatif.sh; each cell a whole search).
whatif: build $(TOOLS)/nats-server-$(NATS_CURRENT)
	./scripts/whatif.sh

# Re-runs every finding; exit 1 if a known bug is no longer found or a
# passing release stops passing. Run before changing the checker or the
# recording.
# Each fuzz test in turn, for FUZZTIME each (default 30s; 20000x for a count).
# `make test` runs their seed corpora as ordinary tests. A failing input is
# written to the package's testdata/fuzz/ and fails `make test` until fixed.
FUZZTIME ?= 30s
FUZZ_TESTS = ./history:FuzzRead ./checker:FuzzCheck ./scenarios:FuzzParse ./scenarios:FuzzParseStages \
	./reports:FuzzParseSLO ./workload:FuzzParseMix
fuzz:
	@set -e; for t in $(FUZZ_TESTS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Power loss on two releases: a coordinated failure (default sync interval
# against always), then one node's power loss at a time overlapping a
# partition and a pause (power-loss-one) and a mix where power losses may
# overlap too (combined), SEEDS seeds (scripts/powerloss.sh; about 25
# minutes with the default 4 seeds).
power-loss-proof: build $(TOOLS)/nats-server-v2.12.1 $(TOOLS)/nats-server-$(NATS_CURRENT)
	TOOLS=$(TOOLS) sh scripts/powerloss.sh

findings: build $(foreach v,$(FINDINGS_RELEASES),$(TOOLS)/nats-server-$(v))
	$(GO) run ./scripts/findings -bin $(BIN) -tools $(TOOLS) $(ARGS)

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin results
