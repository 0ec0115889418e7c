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
# -timeout: test/lifecycle runs its real-node scenarios in one test (~20 min).
GO_TEST    := go test -race -trimpath -count=1 -timeout 60m

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build both binaries into bin/.
	$(GO_BUILD) -o $(BIN)/sidekiq-probe-webhook ./cmd/sidekiq-probe-webhook
	$(GO_BUILD) -o $(BIN)/sidekiq-probe ./cmd/sidekiq-probe

# The product image without Docker (internal/ociimage, hack/image): both
# binaries for linux/amd64 and linux/arm64 in the Dockerfile's layout, as an
# OCI archive to load or push with any OCI tool. go build relinks only what
# changed (the first build of both platforms: 7 CPU-minutes; a rerun 8 s);
# the test cluster imports this very archive.
IMAGE_ARCHIVE := $(BIN)/image/sidekiq-probe.oci.tar

.PHONY: image
image: ## Build the image (linux/amd64, linux/arm64) as an OCI archive: bin/image/sidekiq-probe.oci.tar.
	go run ./hack/image -version $(VERSION) -out $(IMAGE_ARCHIVE)

.PHONY: lint
lint: ## gofmt and go vet.
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$bad" ]; then echo "gofmt would change:"; echo "$$bad"; exit 1; fi
	go vet ./...

.PHONY: deps
deps: tools ## Install what the tests need (Debian packages, tool binaries).
	hack/install-deps.sh

# The real control plane the tests run against, built from the pinned modules
# in hack/k8s-tools (about 5 minutes cold on 2 cores, then cached in bin/).
K8S_VERSION := v1.37.2
# $(call k8s_ldflags,v1.37.2): the version the binaries report.
k8s_ldflags = -s -w \
	-X k8s.io/component-base/version.gitVersion=$(1) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(1))) \
	-X k8s.io/component-base/version.gitTreeState=clean
K8S_BUILD   := cd hack/k8s-tools && go build -trimpath -ldflags '$(call k8s_ldflags,$(K8S_VERSION))'
K8S_TOOLS   := $(BIN)/k8s/kube-apiserver $(BIN)/k8s/etcd $(BIN)/k8s/kube-controller-manager

# The oldest Kubernetes the chart accepts (Chart.yaml's kubeVersion) with the
# etcd of its release, from hack/k8s-tools-1.30 into bin/k8s-1.30/: the
# API-server e2e tests (test/e2e) run on it too. Cold, with an empty build
# cache: kube-apiserver 393 CPU seconds (about 4 minutes on 2 quiet cores),
# etcd 14, kube-controller-manager 90; 2.5 GB of build cache.
K8S_OLDEST_VERSION := v1.30.14
K8S_OLDEST_BUILD   := cd hack/k8s-tools-1.30 && go build -trimpath -ldflags '$(call k8s_ldflags,$(K8S_OLDEST_VERSION))'
K8S_TOOLS          += $(BIN)/k8s-1.30/kube-apiserver $(BIN)/k8s-1.30/etcd $(BIN)/k8s-1.30/kube-controller-manager

.PHONY: tools
tools: $(K8S_TOOLS) ## Build kube-apiserver, etcd and kube-controller-manager into bin/k8s/ (and bin/k8s-1.30/).

$(BIN)/k8s/kube-apiserver:
	$(K8S_BUILD) -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(BIN)/k8s/kube-controller-manager:
	$(K8S_BUILD) -o $@ k8s.io/kubernetes/cmd/kube-controller-manager

$(BIN)/k8s/etcd:
	$(K8S_BUILD) -o $@ go.etcd.io/etcd/server/v3

$(BIN)/k8s-1.30/kube-apiserver:
	$(K8S_OLDEST_BUILD) -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(BIN)/k8s-1.30/kube-controller-manager:
	$(K8S_OLDEST_BUILD) -o $@ k8s.io/kubernetes/cmd/kube-controller-manager

$(BIN)/k8s-1.30/etcd:
	$(K8S_OLDEST_BUILD) -o $@ go.etcd.io/etcd/server/v3

.PHONY: test
test: deps lint ## Run the whole test suite (what CI runs).
	$(GO_TEST) ./...

# helm for the chart tests (test/chart), built from its Go module (~80 s cold).
# A go-installed helm reports Kubernetes v1.20: pass --kube-version.
HELM_VERSION := v3.22.0

deps: $(BIN)/helm

$(BIN)/helm:
	GOBIN=$(BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# cert-manager's CRDs for the chart's cert-manager mode (test/chart), from the
# deploy/crds of its Go module (its commands are not fetchable, its CRDs are).
CERT_MANAGER_VERSION := v1.21.2

deps: $(BIN)/certmanager/crds

$(BIN)/certmanager/crds:
	hack/certmanager-crds.sh $(CERT_MANAGER_VERSION) $@

.PHONY: chart-lint
chart-lint: $(BIN)/helm ## Lint the Helm chart (helm lint --strict).
	$(BIN)/helm lint --strict charts/sidekiq-probe --kube-version $(K8S_VERSION)

# The local single-node cluster (test/cluster): kubelet, kube-scheduler and
# kubectl from hack/k8s-tools (~8 min cold), containerd from
# hack/containerd-tools (~1-4 min cold), runc and CNI plugins from Debian.
CONTAINERD_VERSION := v2.4.2
CONTAINERD_BUILD   := cd hack/containerd-tools && CGO_ENABLED=0 go build -trimpath \
	-ldflags '-s -w -X github.com/containerd/containerd/v2/version.Version=$(CONTAINERD_VERSION)'
NODE_TOOLS := $(BIN)/k8s/kubelet $(BIN)/k8s/kube-scheduler $(BIN)/k8s/kubectl \
	$(BIN)/node/containerd $(BIN)/node/containerd-shim-runc-v2 $(BIN)/node/ctr

.PHONY: node-tools
node-tools: tools $(NODE_TOOLS) ## Build and install what the local cluster (test/cluster) needs.
	hack/install-node-deps.sh

$(BIN)/k8s/kubelet:
	$(K8S_BUILD) -o $@ k8s.io/kubernetes/cmd/kubelet

$(BIN)/k8s/kube-scheduler:
	$(K8S_BUILD) -o $@ k8s.io/kubernetes/cmd/kube-scheduler

$(BIN)/k8s/kubectl:
	$(K8S_BUILD) -o $@ k8s.io/kubernetes/cmd/kubectl

$(BIN)/node/%:
	$(CONTAINERD_BUILD) -o $@ github.com/containerd/containerd/v2/cmd/$*

# The cluster's own tests run in `make test`, on the image `make image` builds.
test: node-tools image

.PHONY: cluster-up cluster-down
cluster-up: node-tools ## Start the local cluster in bin/cluster (kubeconfig: bin/cluster/kubeconfig).
	go run ./test/cluster/cmd/cluster up -sidekiq

cluster-down: ## Stop the local cluster and remove everything it made.
	go run ./test/cluster/cmd/cluster down

# The whole story on a real node (test/lifecycle): cluster, chart, an
# annotated worker, its injected pod, live probes, a rollout with jobs in
# flight and "jobs lost: 0". It cleans up after itself.
.PHONY: demo demo-down
demo: deps node-tools image ## Show the product on a local single-node cluster (first command for newcomers).
	go run ./test/lifecycle/cmd/demo up

demo-down: ## Clean up after an interrupted `make demo`.
	go run ./test/lifecycle/cmd/demo down

# Benchmarks of docs/performance.md (a few minutes on 2 cores): the raw
# `go test -bench` output goes to bin/bench.txt, which benchstat compares
# (go run golang.org/x/perf/cmd/benchstat old.txt bin/bench.txt); the run
# ends with one table of the medians. Timings are never test assertions.
BENCH_OUT := $(BIN)/bench.txt
BENCH     := set -o pipefail; go test -run '^$$' -timeout 15m

.PHONY: bench
bench: deps ## Run the benchmarks and print one table (raw output: bin/bench.txt).
	$(BENCH) -bench BenchmarkAdmission -benchtime 3000x -count 5 ./webhook/ | tee $(BENCH_OUT)
	$(BENCH) -bench BenchmarkPatch -benchtime 3000x -count 5 ./webhook/internal/jsondiff/ | tee -a $(BENCH_OUT)
	$(BENCH) -bench BenchmarkSidecarFootprint -benchtime 500x -count 3 ./probeserver/ | tee -a $(BENCH_OUT)
	$(BENCH) -bench BenchmarkDetectionAndDrain -benchtime 1x ./probeserver/ | tee -a $(BENCH_OUT)
	$(BENCH) -bench BenchmarkServeTLS -benchtime 20000x -count 3 ./test/load/ | tee -a $(BENCH_OUT)
	$(BENCH) -bench BenchmarkAPIServerPodCreate -benchtime 1x ./test/load/ | tee -a $(BENCH_OUT)
	@go run ./test/load/benchtable < $(BENCH_OUT)
