# Sweep: a Kubernetes operator for city-wide mass testing rounds.
# `make help` lists the targets.

# Tool versions: the one place they are pinned. The Kubernetes control plane
# (k8s.io/kubernetes v1.37.2, etcd v3.7.0) is pinned in hack/tools/k8s/go.mod.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
KWOK_VERSION ?= v0.8.0
# Prometheus and promtool (github.com/prometheus/prometheus): promtool checks
# and unit-tests the alert rules, prometheus scrapes a real operator in
# test/e2e/observability.
PROMETHEUS_VERSION ?= v0.316.0
KO_VERSION ?= v0.19.1
# The Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule), read from
# this module's zip by test/e2e/install to validate the chart's optional
# objects against a real API server.
PROMETHEUS_OPERATOR_VERSION ?= v0.85.0
# cert-manager's CRDs (Issuer, Certificate), read the same way from its
# module's deploy/crds, for the chart's metrics certificate.
CERT_MANAGER_VERSION ?= v1.21.2

# The project's version: the VERSION file is its one source. `make build`
# stamps it into the binary, `make chart-files` into charts/sweep/Chart.yaml,
# and test/e2e/install checks that cmd/sweep's default and the chart agree.
VERSION := $(shell cat $(CURDIR)/VERSION)
# Helm chart versions are SemVer without the leading v.
CHART_VERSION := $(patsubst v%,%,$(VERSION))
LDFLAGS := -s -w -X main.version=$(VERSION)
# How `make build` and `make plugin` build sweep, as the image does: static
# (no cgo), no local paths (-trimpath) and no VCS stamp, so the same source
# gives the same bytes and the plugin's binary for this machine is the very
# binary `make build` writes (`make plugin-check` compares them).
GO_BUILD := CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$(LDFLAGS)"

IMAGE_REPO ?= ghcr.io/masstesting/sweep
IMG ?= $(IMAGE_REPO):$(VERSION)

LOCALBIN ?= $(CURDIR)/bin
K8S_BIN ?= $(LOCALBIN)/k8s
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm
KUBECTL ?= $(K8S_BIN)/kubectl
PROMTOOL ?= $(LOCALBIN)/promtool
PROMETHEUS ?= $(LOCALBIN)/prometheus
KO ?= $(LOCALBIN)/ko
CHART := charts/sweep

export KWOK_VERSION PROMETHEUS_OPERATOR_VERSION CERT_MANAGER_VERSION

# Sweep's own code that lives in modules of its own, so that what only it
# uses (the Grafana Foundation SDK; gonum's plotting) stays out of the main
# module and the sweep binary (docs/dependencies.md): the dashboard
# generator and the benchmark with the soak chart. `go ... ./...` in the
# root does not reach them, so vet, lint and test run in each as well.
SUBMODULES := hack/dashboards test/bench

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the API types and controller markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." paths="./internal/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory chart-files

# The chart reads what it shares with config/ from charts/sweep/files (Helm
# can only read files inside the chart); this copies them, so that the chart
# never drifts from the generated CRDs and RBAC. verify-generated runs it, so
# `make test` fails on a stale copy. The rules and dashboards come from
# config/prometheus/rules and config/grafana once those exist; until then the
# chart keeps its stand-ins (charts/sweep/files/README.md).
.PHONY: chart-files
chart-files: ## Copy CRDs, the manager ClusterRole, admission policies, alert rules, dashboards and the version into charts/sweep.
	rm -f $(CHART)/files/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART)/files/crds/
	cp config/rbac/role.yaml $(CHART)/files/rbac/manager-role.yaml
	mkdir -p $(CHART)/files/admission && rm -f $(CHART)/files/admission/*.yaml
	find config/admission -name '*.yaml' ! -name 'kustomiz*' -exec cp {} $(CHART)/files/admission/ \;
	if [ -f config/prometheus/rules/sweep.rules.yaml ]; then cp config/prometheus/rules/sweep.rules.yaml $(CHART)/files/prometheus/sweep.rules.yaml; fi
	if compgen -G 'config/grafana/*.json' >/dev/null; then rm -f $(CHART)/files/grafana/*.json; cp config/grafana/*.json $(CHART)/files/grafana/; fi
	sed -i -e 's/^version: .*/version: $(CHART_VERSION)/' -e 's/^appVersion: .*/appVersion: $(VERSION)/' $(CHART)/Chart.yaml
	sed -i 's/^  newTag: .*/  newTag: $(VERSION)/' config/manager/kustomization.yaml

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt (also in SUBMODULES).
	go fmt ./...
	for m in $(SUBMODULES); do (cd $$m && go fmt ./...); done

.PHONY: vet
vet: ## Run go vet (also in SUBMODULES).
	go vet ./...
	for m in $(SUBMODULES); do (cd $$m && go vet ./...); done

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (also on the files behind the reliability build tag, and in SUBMODULES).
	$(GOLANGCI_LINT) run --allow-serial-runners --build-tags reliability
	for m in $(SUBMODULES); do (cd $$m && $(GOLANGCI_LINT) run --allow-serial-runners); done

.PHONY: verify-generated
verify-generated: controller-gen ## Fail if `make manifests generate` would change the tree.
	hack/verify-generated.sh $(MAKE) --no-print-directory manifests generate

.PHONY: dashboards
dashboards: ## Regenerate the Grafana dashboards in config/grafana/ from hack/dashboards.
	cd hack/dashboards && go run . -out $(CURDIR)/config/grafana

.PHONY: alerts
alerts: ## Regenerate the PrometheusRule in config/prometheus/ from config/prometheus/rules/sweep.rules.yaml.
	go run ./hack/alerts

.PHONY: alerts-test
alerts-test: promtool ## Check the alert rules and run their unit tests with promtool.
	$(PROMTOOL) check rules config/prometheus/rules/sweep.rules.yaml
	$(PROMTOOL) test rules config/prometheus/rules/sweep.rules_test.yaml

.PHONY: test
test: verify-generated fmt vet lint helm-lint k8s-bin kustomize alerts-test plugin-check ## Run every test: unit, the alert rules' unit tests, the krew plugin's manifest and archives, the chart's lint, envtest (a real kube-apiserver) and end to end (kwok clusters; a real Prometheus).
	KUBEBUILDER_ASSETS="$(K8S_BIN)" go test $$(go list ./... | grep -v /test/e2e) -count=1
	$(MAKE) --no-print-directory test-submodules
	$(MAKE) --no-print-directory test-e2e

# The unit tests of SUBMODULES (`make test` runs them; vet and lint cover
# them too). Among them hack/dashboards' test that config/grafana/ is what
# the generator writes, and that it fits Grafana's schema.
.PHONY: test-submodules
test-submodules: ## Run the unit tests of the modules of their own (hack/dashboards, test/bench).
	for m in $(SUBMODULES); do (cd $$m && go test ./... -count=1); done

# Seconds on a fresh clone, without bin/k8s: every internal package, and the
# tests of the envtest packages whose names say they need no API server
# (…Pure: no client; …Table: table tests on a fake client). internal/testenv
# fails a test so named that asks for the API server, so the names stay true.
.PHONY: test-pure
test-pure: ## Run the tests that need no control plane: internal/..., the tests named …Pure or …Table in controllers, cmd/sweep and api, and test-submodules.
	go test ./internal/... -count=1
	go test ./controllers ./cmd/sweep ./api/... -run 'Pure|Table' -count=1
	$(MAKE) --no-print-directory test-submodules

# The end-to-end tests each start their own local cluster (hack/cluster.sh)
# and mostly wait on timers (revisit intervals, leases), so they run four
# at a time even on two cores. Packages run one after the other (-p 1):
# test/e2e's leader failover test times a takeover against the lease, and a
# second package's cluster or Prometheus starting beside it on two cores can
# push it past its allowance. test/e2e/observability scrapes the operator
# with bin/prometheus (SWEEP_REQUIRE_PROMETHEUS makes it fail, not skip, if
# that is missing); test/e2e/install needs helm and kustomize.
.PHONY: test-e2e
test-e2e: k8s-bin prometheus helm kustomize ## Run the end-to-end tests on local kwok clusters and against a real Prometheus (about 8 minutes).
	SWEEP_REQUIRE_PROMETHEUS=1 KUBEBUILDER_ASSETS="$(K8S_BIN)" go test ./test/e2e/... -p 1 -count=1 -parallel 4 -timeout 30m -v 2>&1 | \
	  grep -v -e '^=== \(RUN\|PAUSE\|CONT\)'

# Not part of `make test`: the long fault and soak scenarios of
# docs/reliability.md, on local kwok clusters. They live in test/e2e behind
# the `reliability` build tag (so they share its cluster and manager helpers)
# and are named TestReliability* and TestSoak*. About an hour. TestSoak
# writes its samples to docs/soak.csv; soak-plot then draws docs/soak.png
# from them, also when a test failed (a leak is best seen in the chart).
.PHONY: test-reliability
test-reliability: k8s-bin build ## Run the long fault-injection and soak tests (kwok clusters; about an hour).
	status=0; KUBEBUILDER_ASSETS="$(K8S_BIN)" go test -tags reliability ./test/e2e -run '^(TestReliability|TestSoak)' -p 1 -count=1 -parallel 2 -timeout 100m -v 2>&1 | \
	  grep -v -e '^=== \(RUN\|PAUSE\|CONT\)' || status=$$?; \
	$(MAKE) --no-print-directory soak-plot; exit $$status

# The soak chart lives in test/bench/soakplot, outside the main module with
# its plotting library (gonum). SOAK_DIR: where TestSoak wrote soak.csv
# (SWEEP_SOAK_OUT; docs by default).
SOAK_DIR ?= $(CURDIR)/docs

.PHONY: soak-plot
soak-plot: ## Draw the soak test's chart, $(SOAK_DIR)/soak.png, from its samples in $(SOAK_DIR)/soak.csv.
	cd test/bench && go run ./soakplot -in $(abspath $(SOAK_DIR))/soak.csv -out $(abspath $(SOAK_DIR))/soak.png

# Not part of `make test`: it takes 25 to 27 minutes and its figures are
# only meaningful on a quiet machine. See docs/performance.md.
.PHONY: bench
# test/bench is a module of its own (SUBMODULES): it is built into
# bin/sweep-bench and run from here, where its paths (bin/, config/, docs/)
# are relative to.
bench: k8s-bin build ## Measure Sweep at 1,000, 10,000 and 50,000 buildings against the API server's ceiling; writes docs/performance.{md,png}.
	cd test/bench && go build -o $(LOCALBIN)/sweep-bench .
	$(LOCALBIN)/sweep-bench -n $(BENCH_N) -out docs/performance.md -png docs/performance.png

BENCH_N ?= 1000,10000,50000

# A whole city on this machine: 100,000 buildings in 13 districts
# (namespaces), one round per district a minute apart, on one control plane
# and one manager under the chart's limits. At most about 45 minutes (the
# roster, then CITY_TIMEOUT of rounds); writes
# docs/performance-city.md and its section of docs/performance.md.
.PHONY: bench-city
bench-city: k8s-bin build ## Run a whole city (100,000 buildings, 13 districts) on one manager; writes docs/performance-city.md.
	cd test/bench && go build -o $(LOCALBIN)/sweep-bench .
	$(LOCALBIN)/sweep-bench -city -city-buildings $(CITY_BUILDINGS) -city-districts $(CITY_DISTRICTS) -city-timeout $(CITY_TIMEOUT) -out docs/performance.md -city-out docs/performance-city.md

CITY_BUILDINGS ?= 100000
CITY_DISTRICTS ?= 13
# How long the rounds may run from the first one's creation; the report
# then says how far the city got.
CITY_TIMEOUT ?= 40m

# Lints and renders the chart with its defaults and with every values file in
# charts/sweep/ci (--strict: warnings fail too); the schema and the objects
# themselves are checked by test/e2e/install against a real API server.
.PHONY: helm-lint
helm-lint: helm ## Lint and render the Helm chart with default and non-default values.
	$(HELM) lint --strict $(CHART)
	$(HELM) template sweep $(CHART) --namespace sweep-system >/dev/null
	for f in $(CHART)/ci/*.yaml; do \
	  $(HELM) lint --strict $(CHART) -f $$f; \
	  $(HELM) template sweep $(CHART) --namespace sweep-system -f $$f >/dev/null; \
	done

##@ Build

.PHONY: build
build: ## Build the sweep binary.
	$(GO_BUILD) -o $(LOCALBIN)/sweep ./cmd/sweep

# kubectl-sweep for krew (docs/install.md, "As a kubectl plugin"): the sweep
# binary, renamed, cross-built as `make build` builds it, for the platforms
# krew users expect, into reproducible tar.gz archives (the binary and
# LICENSE; fixed order, modes, owner and times), and the plugin manifest
# hack/tools/krew/sweep.yaml.tmpl filled in with the version and each
# archive's sha256. Upload the archives to the release $(VERSION) and submit
# dist/krew/sweep.yaml to krew-index (or serve it yourself).
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
PLUGIN_DIST ?= $(CURDIR)/dist/krew
KREW_BIN ?= $(LOCALBIN)/krew

.PHONY: plugin
plugin: ## Cross-build kubectl-sweep archives for krew and write their manifest, into dist/krew.
	rm -rf $(PLUGIN_DIST) && mkdir -p $(PLUGIN_DIST)
	for p in $(PLUGIN_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; exe=; if [ $$os = windows ]; then exe=.exe; fi; \
	  GOOS=$$os GOARCH=$$arch $(GO_BUILD) -o $(PLUGIN_DIST)/$${os}_$${arch}/kubectl-sweep$$exe ./cmd/sweep; \
	done
	cd hack/tools/krew && go run . pack -dist $(PLUGIN_DIST) -version $(VERSION) -license $(CURDIR)/LICENSE -platforms "$(PLUGIN_PLATFORMS)"

# Part of `make test`. Cross-building all five platforms takes minutes on
# two cores, so the check builds the real binaries for PLUGIN_CHECK_PLATFORMS
# only (this machine's, which `make build` must equal, and windows/amd64,
# the one with .exe) into dist/krew-check, leaving dist/krew alone; the full
# five-platform manifest from the same template is validated by the unit
# tests with stand-in binaries. `make plugin-check
# PLUGIN_CHECK_PLATFORMS="$(PLUGIN_PLATFORMS)"` checks a whole release.
# In hack/tools/krew (its own module): go vet; the unit tests (the full
# manifest through krew's validator and krew install; tampered archives and
# manifests fail); then on the real build: krew's validate-krew-manifest;
# every platform listed, its uri, bin and sha256 right, its archive holding
# exactly the files the manifest copies, its binary the cross-built one and
# its archive reproducible; each archive installed by krew itself
# (KREW_OS/KREW_ARCH, --archive); and the host's binary byte for byte what
# `make build` writes (built here into dist/krew-check/make-build, so
# bin/sweep is left alone), run by kubectl as `kubectl sweep version` once
# installed.
PLUGIN_CHECK_PLATFORMS ?= $(sort $(shell go env GOOS)/$(shell go env GOARCH) windows/amd64)
PLUGIN_CHECK_DIST ?= $(CURDIR)/dist/krew-check

.PHONY: plugin-check
plugin-check: krew-bin ## Check the krew manifest and archives with krew's validator and krew itself, against `make build`.
	$(MAKE) --no-print-directory plugin PLUGIN_PLATFORMS="$(PLUGIN_CHECK_PLATFORMS)" PLUGIN_DIST=$(PLUGIN_CHECK_DIST)
	$(MAKE) --no-print-directory build LOCALBIN=$(PLUGIN_CHECK_DIST)/make-build
	cd hack/tools/krew && export KREW_NO_UPGRADE_CHECK=1 && go vet ./... && \
	  SWEEP_KREW_VALIDATOR=$(KREW_BIN)/validate-krew-manifest SWEEP_KREW=$(KREW_BIN)/kubectl-krew \
	    $(if $(wildcard $(KUBECTL)),SWEEP_KUBECTL=$(KUBECTL)) go test -count=1 ./... && \
	  go run . check -dist $(PLUGIN_CHECK_DIST) -version $(VERSION) -license $(CURDIR)/LICENSE \
	    -platforms "$(PLUGIN_CHECK_PLATFORMS)" -make-build $(PLUGIN_CHECK_DIST)/make-build/sweep \
	    -validator $(KREW_BIN)/validate-krew-manifest -krew $(KREW_BIN)/kubectl-krew \
	    $(if $(wildcard $(KUBECTL)),-kubectl $(KUBECTL))

##@ Deployment

.PHONY: install
install: kustomize k8s-bin ## Install the CRDs into the cluster in your kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: kustomize k8s-bin ## Remove the CRDs (and every Sweep object) from the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

# The image is set on the command line rather than by `kustomize edit`, so
# that deploying never edits tracked files.
.PHONY: deploy
deploy: kustomize k8s-bin ## Deploy the operator with config/default (IMG=... to choose the image).
	$(KUSTOMIZE) build config/default | sed 's|image: $(IMAGE_REPO):$(VERSION)$$|image: $(IMG)|' | $(KUBECTL) apply --server-side -f -

.PHONY: helm-install
helm-install: helm ## Install or upgrade the Helm chart into the cluster in your kubeconfig (namespace sweep-system).
	$(HELM) upgrade --install sweep $(CHART) --namespace sweep-system --create-namespace

.PHONY: undeploy
undeploy: kustomize k8s-bin ## Remove the operator deployed by `make deploy`.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: demo
demo: k8s-bin build ## Run a drill round over a 64-building district on a local cluster and watch it live.
	hack/demo.sh

##@ Tools

.PHONY: tools
tools: controller-gen kustomize golangci-lint helm k8s-bin promtool prometheus krew-bin ## Install every pinned tool into bin/.

# krew and its manifest validator, at the version hack/tools/krew/go.mod
# pins (go's build cache makes a second run take a second or two).
.PHONY: krew-bin
krew-bin: ## Build krew (as kubectl-krew) and validate-krew-manifest into bin/krew.
	cd hack/tools/krew && go build -o $(KREW_BIN)/kubectl-krew sigs.k8s.io/krew/cmd/krew && \
	  go build -o $(KREW_BIN)/validate-krew-manifest sigs.k8s.io/krew/cmd/validate-krew-manifest

.PHONY: k8s-bin
k8s-bin: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok and kwokctl into bin/k8s.
	hack/build-k8s.sh

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): $(LOCALBIN)/.controller-gen-$(CONTROLLER_TOOLS_VERSION)
$(LOCALBIN)/.controller-gen-$(CONTROLLER_TOOLS_VERSION):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): $(LOCALBIN)/.kustomize-$(KUSTOMIZE_VERSION)
$(LOCALBIN)/.kustomize-$(KUSTOMIZE_VERSION):
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): $(LOCALBIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION)
$(LOCALBIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION):
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM)
$(HELM): $(LOCALBIN)/.helm-$(HELM_VERSION)
$(LOCALBIN)/.helm-$(HELM_VERSION):
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

# Prometheus's go.mod has no replace directives, so `go install` builds it
# at the pinned version. remove_all_sd leaves out the service discovery
# plugins (AWS, Azure, GCE, Kubernetes, ...): the tests scrape a static
# target and only check rules, and the build is minutes shorter without them.
PROMETHEUS_BUILD_FLAGS ?= -tags remove_all_sd

.PHONY: promtool
promtool: $(PROMTOOL)
$(PROMTOOL): $(LOCALBIN)/.promtool-$(PROMETHEUS_VERSION)
$(LOCALBIN)/.promtool-$(PROMETHEUS_VERSION):
	$(call go-install-tool,$(PROMTOOL),github.com/prometheus/prometheus/cmd/promtool,$(PROMETHEUS_VERSION),$(PROMETHEUS_BUILD_FLAGS))

.PHONY: prometheus
prometheus: $(PROMETHEUS)
$(PROMETHEUS): $(LOCALBIN)/.prometheus-$(PROMETHEUS_VERSION)
$(LOCALBIN)/.prometheus-$(PROMETHEUS_VERSION):
	$(call go-install-tool,$(PROMETHEUS),github.com/prometheus/prometheus/cmd/prometheus,$(PROMETHEUS_VERSION),$(PROMETHEUS_BUILD_FLAGS))

.PHONY: ko
ko: $(KO)
$(KO): $(LOCALBIN)/.ko-$(KO_VERSION)
$(LOCALBIN)/.ko-$(KO_VERSION):
	$(call go-install-tool,$(KO),github.com/google/ko,$(KO_VERSION))

# go-install-tool installs package $(2) at version $(3) as binary $(1), with
# go install flags $(4) if given, and leaves a marker named after the
# version, so that changing a pin above reinstalls the tool and an unchanged
# pin never touches the network.
define go-install-tool
@set -e; mkdir -p $(LOCALBIN); echo ">> installing $(2)@$(3)"; \
GOBIN=$(LOCALBIN) go install $(4) $(2)@$(3); \
rm -f $(LOCALBIN)/.$(notdir $(1))-*; touch $@
endef
