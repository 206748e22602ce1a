# Outrigger build, test and benchmark entry points.
# `make test` is the one command CI runs (.ci/run calls it).

GO          ?= go
BIN         := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
LDFLAGS     := -s -w -X github.com/outrigger/outrigger/internal/version.GitCommit=$(shell git rev-parse --short HEAD 2>/dev/null)

# Packages whose tests also run under the race detector: the core that every
# request goes through, plus the stores that need no outside service.
RACE_PKGS := ./internal/api/... ./internal/registry/... ./internal/resources/... ./internal/options/... \
             ./internal/sidecar/... ./internal/runner/... ./internal/state ./internal/state/memory/... \
             ./internal/state/query/... ./internal/state/sqlite/... ./internal/appchannel/... ./internal/h1client/... ./internal/rawsock/... ./internal/grpccodec/... ./internal/invoke/... ./internal/protosplit/... \
             ./internal/nameresolution/static/... ./internal/pubsub ./internal/pubsub/memory/... \
             ./internal/pubsub/delivery/... ./internal/pubsub/sqlite/... ./internal/outbox/... \
             ./internal/actors/... ./internal/placement/... ./internal/resiliency/... ./internal/telemetry/... ./internal/gcpace/...

.PHONY: all build test unit race compat lint vet staticcheck bench clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/outrigger ./cmd/outrigger
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/daprd ./cmd/daprd

# The whole suite: static checks, every package's tests (real Redis,
# PostgreSQL and MariaDB are required when CI=true), the race detector on the
# core, and the official Dapr SDK scenarios against the built binary.
test: lint unit race compat

unit:
	$(GO) test -count=1 -p 2 ./...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)

compat: build
	cd compat && OUTRIGGER_BIN=$(CURDIR)/$(BIN)/outrigger $(GO) test -count=1 ./...

lint: vet staticcheck
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi

vet:
	$(GO) vet ./...
	cd compat && $(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...
	cd compat && $(GO) run $(STATICCHECK) ./...

# End-to-end load against the built sidecar (see bench/README.md);
# DAPRD=/path/to/daprd also measures Dapr's daprd beside it.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20000x ./internal/api/http/
	$(GO) test -run '^$$' -bench InvokeThroughSidecars -benchtime 5000x ./internal/sidecar/
	$(GO) test -run '^$$' -bench InvokeRemote -benchtime 20000x ./internal/invoke/
	$(GO) run ./bench/loadgen -bin $(BIN)/outrigger $(if $(DAPRD),-daprd $(DAPRD))

clean:
	rm -rf $(BIN)
