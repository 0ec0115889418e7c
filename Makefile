# sidekiq-probe: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Everything built here (our binaries and the test tools) lands in bin/,
# which git ignores; tools are rebuilt only when missing.
BIN        := $(CURDIR)/bin
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
GO_BUILD   := CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)'
# -trimpath for tests too: the race build then shares the compile cache with
# the tool builds, which matters on a 2-core CI machine.
GO_TEST    := go test -race -trimpath -count=1

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build both binaries into bin/.
	$(GO_BUILD) -o $(BIN)/sidekiq-probe-webhook ./cmd/sidekiq-probe-webhook
	$(GO_BUILD) -o $(BIN)/sidekiq-probe ./cmd/sidekiq-probe

.PHONY: lint
lint: ## gofmt and go vet.
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$bad" ]; then echo "gofmt would change:"; echo "$$bad"; exit 1; fi
	go vet ./...

.PHONY: deps
deps: ## Install what the tests need (Debian packages, tool binaries).
	hack/install-deps.sh

.PHONY: test
test: deps lint ## Run the whole test suite (what CI runs).
	$(GO_TEST) ./...

# helm for the chart tests (test/chart), built from its Go module (~80 s cold).
# A go-installed helm reports Kubernetes v1.20: pass --kube-version.
HELM_VERSION      := v3.22.0
# The Kubernetes version the chart is linted for: the e2e tests' API server.
HELM_KUBE_VERSION := v1.37.2

deps: $(BIN)/helm

$(BIN)/helm:
	GOBIN=$(BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: chart-lint
chart-lint: $(BIN)/helm ## Lint the Helm chart (helm lint --strict).
	$(BIN)/helm lint --strict charts/sidekiq-probe --kube-version $(HELM_KUBE_VERSION)
