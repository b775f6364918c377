# Sluice — see README.md. `make help` lists the targets.

SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
# Packages with tests; everything under the module.
PKGS ?= ./...
TEST_TIMEOUT ?= 75m
TEST_FLAGS ?=
IMAGE ?= sluice:dev

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## Build the pinned control plane (kube-apiserver, etcd, kwok, ...) into bin/, cached per user.
	hack/tools/build.sh

.PHONY: postgres
postgres: ## Install PostgreSQL's server binaries from Debian's packages if missing.
	hack/install-postgres.sh

.PHONY: cc
cc: ## Install a C compiler (Debian's gcc) if missing: the disk-full tests build their fault library with it.
	hack/install-cc.sh

.PHONY: protoc
protoc: ## Install protoc (Debian's protobuf-compiler package) for make generate, if missing.
	hack/install-protoc.sh

.PHONY: patroni
patroni: ## Install Patroni (Debian's patroni package) for the HA failover tests, if missing.
	hack/install-patroni.sh

.PHONY: chromium
chromium: ## Install Chromium (Debian's chromium package) for the browser tests, if missing.
	hack/install-chromium.sh

.PHONY: registry
registry: ## Install the CNCF distribution registry (Debian's docker-registry package) if missing.
	hack/install-registry.sh

# VERSION is stamped into the binaries: the checkout's git describe.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)

.PHONY: build
build: ## Build sluice-apiserver, sluice-controller and the kubectl plugin kubectl-sluice (with its completion) into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X github.com/sluice-dev/sluice/pkg/version.stamped=$(VERSION)" -o $(BIN)/ ./cmd/...
	install -m 0755 hack/kubectl_complete-sluice $(BIN)/

.PHONY: generate
generate: protoc ## Regenerate deepcopy, conversion, defaults, protobuf, OpenAPI, clientset, listers, informers.
	hack/update-codegen.sh

.PHONY: lint
lint: ## gofmt and go vet.
	@unformatted=$$(gofmt -l cmd pkg hack test); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: verify
verify: lint protoc ## Check generated code is fresh, Kubernetes pins agree, and lint.
	hack/verify-pins.sh
	hack/verify-codegen.sh

.PHONY: test
test: postgres patroni cc registry chromium tools build verify ## Every test: unit, integration and end-to-end.
	$(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(PKGS)

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m); make test runs only their seeds.
	hack/fuzz.sh $(FUZZTIME)

.PHONY: run
run: postgres registry tools build ## Start the local stack (state in .local/run/) and print a kubeconfig; Ctrl-C stops it.
	$(GO) run ./hack/local-up

BENCH_SCALE ?= small

.PHONY: bench
bench: postgres tools build ## Benchmark Sluice against the same types as CRDs (full and minimal schema), on an API-only and a full stack (BENCH_SCALE=small|medium|large, BENCH_STACK, BENCH_SYSTEMS); results in docs/benchmarks.md.
	BENCH_SCALE=$(BENCH_SCALE) $(GO) run ./hack/bench -update-docs

.PHONY: bench-storage
bench-storage: postgres tools ## Storage-engine microbenchmarks, PostgreSQL store beside the etcd3 store (hack/bench-storage.sh).
	hack/bench-storage.sh

.PHONY: image
image: ## Build the container image with both binaries (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

.PHONY: clean
clean: ## Remove bin/ links and .local/ state (the per-user tool cache stays).
	rm -rf $(BIN) .local
