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

.PHONY: build run test test-short bench soak lint tools clean

build:
	$(GO) build -o $(BIN) ./cmd/kvharness

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

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin results
