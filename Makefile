# One command per habit. `make test` is what CI runs.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)

# The modules: the product at the root; deploy (the Kubernetes and
# Dockerfile checks, with the Kubernetes API and kustomize) and e2e (the
# browser tests, with chromedp), whose go.mod files replace the root module
# with this checkout. They are modules of their own so that what only their
# tests need stays out of the product's go.mod and out of the Dockerfile's
# `go mod download`. No go.work ties them: test and lint run in each
# directory.
MODULES  := . deploy e2e

.PHONY: test lint bench build loadtest fuzz bench-replicas

## test: the full suite of every module with the race detector (set GATEHOUSE_TEST_POSTGRES_DSN for the PostgreSQL tests)
test:
	@for m in $(MODULES); do echo "$$m: $(GO) test -race -count=1 ./..."; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

## lint: no tracked build output, gofmt, and in every module go vet and staticcheck (when it is installed)
lint:
	@bins=$$(git ls-files -z | xargs -0 -r sh -c 'for f; do [ -f "$$f" ] && [ "$$(head -c 4 "$$f" | od -An -c | tr -d " ")" = "177ELF" ] && echo "$$f"; done; true' sh); \
	if [ -n "$$bins" ]; then echo "build output is tracked (git rm --cached it and ignore it):"; echo "$$bins"; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do echo "$$m: $(GO) vet ./..."; (cd $$m && $(GO) vet ./...) || exit 1; done
	@if ! command -v staticcheck >/dev/null 2>&1; then echo "staticcheck not installed; skipped"; exit 0; fi; \
	for m in $(MODULES); do echo "$$m: staticcheck ./..."; (cd $$m && staticcheck ./...) || exit 1; done

## bench: every benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## build: the static binary, as the Dockerfile builds it
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/gatehouse ./cmd/gatehouse

## fuzz: a short run of every fuzz target, and a million decisions of each differential test against Casbin
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCanonicalize -fuzztime 30s ./proxy
	$(GO) test -run '^$$' -fuzz FuzzParseCSV -fuzztime 30s ./policy
	$(GO) test -run '^$$' -fuzz FuzzPattern -fuzztime 30s ./policy
	$(GO) test -run '^$$' -fuzz FuzzToken -fuzztime 30s -fuzzminimizetime 5s ./admin
	$(GO) test -run '^$$' -fuzz FuzzDecodeBody -fuzztime 30s ./admin/api
	$(GO) test ./policy -run 'TestDifferential|TestSplitRecordReadsAsCasbin' -count=1 -timeout 60m -differential.cases 1000000

## bench-replicas: propagation latency between two replicas and start time with 100 000 users (needs GATEHOUSE_TEST_POSTGRES_DSN for PostgreSQL)
bench-replicas:
	$(GO) test -run '^$$' -bench 'Propagation|Startup100k' -benchtime 1x ./admin/

## loadtest: bare proxy vs Gatehouse vs oauth2-proxy (installed with go install on first use), interleaved, then restart time, 100 000 users, and memory under floods (slow; uses wrk when installed)
loadtest:
	$(GO) run ./cmd/loadtest
	$(GO) run ./cmd/loadtest -restarts 10
	$(GO) run ./cmd/loadtest -users 100000 -rounds 3
	$(GO) run ./cmd/loadtest -attack
