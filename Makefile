# gantry's build. `make run` and `make test` build whatever is missing first.
# The Kubernetes binaries are compiled from k8s.io/kubernetes (tools/kube) into bin/
# once per pinned version; Go's build cache makes later rebuilds a matter of linking.

SHELL := /usr/bin/env bash
GO ?= go
KUBE_VERSION := $(shell awk '$$1=="k8s.io/kubernetes" && $$2 ~ /^v/ {print $$2} $$1=="require" && $$2=="k8s.io/kubernetes" {print $$3}' tools/kube/go.mod)
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
# The stamp names the version and a hash of kube-controlplane's source.
KUBE_SRC := $(shell cat tools/kube/go.mod $$(find tools/kube/cmd -name "*.go" -not -name "*_test.go" | sort) | sha256sum | cut -c1-12)
KUBE_STAMP := bin/.kube-$(KUBE_VERSION)-$(KUBE_SRC)
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean
# kube-controlplane runs kube-apiserver, kube-controller-manager and kube-scheduler
# in one process; kubectl is for users and tests. The real node's kubelet and
# kube-proxy are binaries of their own, not subcommands of kube-controlplane: Go
# runs every linked package's init in every process, so a kubelet inside the
# multi-call binary would carry the API server's and controller-manager's global
# tables in its idle RSS (the real node's figure), and one go build links all
# four binaries in parallel from the same compiled packages, so separate binaries
# cost only their link, not a second compile (all four: 4.5 minutes warm on this
# shared 2-core machine, kubelet 92 MB and kube-proxy 79 MB on disk).
KUBE_CMDS := kube-controlplane kubectl kubelet kube-proxy
KUBE_PKGS := ./cmd/kube-controlplane k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
# Argo CD (tools/argocd), for the tests only: internal/argocdtest runs its
# server, repo-server and application-controller as processes. One multi-call
# binary; the symlinks' names select the component.
ARGOCD_VERSION := $(shell awk '$$1=="require" && $$2=="github.com/argoproj/argo-cd/v3" {print $$3}' tools/argocd/go.mod)
ARGOCD_SRC := $(shell cat tools/argocd/go.mod tools/argocd/*.go | sha256sum | cut -c1-12)
ARGOCD_STAMP := bin/.argocd-$(ARGOCD_VERSION)-$(ARGOCD_SRC)
ARGOCD_LINKS := argocd-server argocd-repo-server argocd-application-controller
ARGOCD_LDFLAGS := -s -w -X github.com/argoproj/argo-cd/v3/common.version=$(ARGOCD_VERSION:v%=%) \
	-X github.com/argoproj/argo-cd/v3/common.gitTreeState=clean
GANTRY_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
TEST_TIMEOUT ?= 25m
ARGS ?=

.PHONY: all build run test test-deps test-unit test-ui test-browser ui bench bench-ui kube-binaries argocd-binaries image generate verify-generated clean

all: build

build: bin/gantry bin/gantry-pause kube-binaries

# The web UI (ui/, React + Vite) is built into internal/webui/dist/app, which the
# binary embeds. npm ci runs when the lock file changed, vite build when a UI
# source did; a binary built without it serves a page saying to run make ui.
UI_OUT := internal/webui/dist/app/index.html
UI_DEPS := ui/node_modules/.ci-stamp
UI_SRC := $(shell find ui/src ui/public -type f ! -name '*.test.ts' ! -name '*.test.tsx' 2>/dev/null) \
	ui/index.html ui/vite.config.ts ui/tsconfig.json ui/package.json

ui: $(UI_OUT)

$(UI_DEPS): ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

$(UI_OUT): $(UI_DEPS) $(UI_SRC)
	cd ui && npm run --silent build

# Always handed to go build: its cache decides what is stale.
bin/gantry: $(UI_OUT) FORCE
	$(GO) build -ldflags "-X gantry.dev/gantry/internal/cli.Version=$(GANTRY_VERSION)" -o $@ ./cmd/gantry

# The real node's sandbox (pause) program, packed into an image at node start.
bin/gantry-pause: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@ ./cmd/gantry-pause

# Rebuilt only when the pinned version or kube-controlplane's source changes (the
# stamp names both) or a binary is gone.
kube-binaries:
	@for c in $(KUBE_CMDS); do test -x bin/$$c || rm -f $(KUBE_STAMP); done
	@$(MAKE) --no-print-directory $(KUBE_STAMP)

$(KUBE_STAMP):
	@echo "building Kubernetes $(KUBE_VERSION) components from source (about 7 minutes the first time)..."
	@mkdir -p bin && rm -f bin/.kube-* bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler
	cd tools/kube && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o ../../bin/ $(KUBE_PKGS)
	touch $@

# Argo CD for the end-to-end tests, rebuilt only when tools/argocd changes
# (the stamp names the version and a hash of the module) or a binary is gone.
argocd-binaries:
	@for c in argocd $(ARGOCD_LINKS); do test -x bin/$$c || rm -f $(ARGOCD_STAMP); done
	@$(MAKE) --no-print-directory $(ARGOCD_STAMP)

$(ARGOCD_STAMP):
	@echo "building Argo CD $(ARGOCD_VERSION) from source for the tests (about 8 minutes on 2 cores the first time)..."
	@mkdir -p bin && rm -f bin/.argocd-* bin/argocd $(addprefix bin/,$(ARGOCD_LINKS))
	cd tools/argocd && CGO_ENABLED=0 $(GO) build -ldflags "$(ARGOCD_LDFLAGS)" -o ../../bin/argocd github.com/argoproj/argo-cd/v3/cmd
	@for c in $(ARGOCD_LINKS); do ln -s argocd bin/$$c; done
	touch $@

# gantry's container image (hack/image): gantry and kube-controlplane with the
# C library they link and this machine's CA certificates, non-root, as a
# docker-save archive for `docker load` or `gantry image load`.
IMAGE_REF ?= gantry.local/gantry:$(GANTRY_VERSION)
image: bin/gantry kube-binaries
	$(GO) run ./hack/image -o bin/gantry-image.tar -ref $(IMAGE_REF) -version $(GANTRY_VERSION)

run: build
	./bin/gantry up $(ARGS)

# Unit tests, then the end-to-end tests on the real embedded host, apart: run
# together, the packages that start real API servers starve the end-to-end ones
# on a 2-core machine. go vet has run every analyzer first, so the tests run
# none; the test binaries are kept in bin/test, linked again only when their
# package changed (hack/test-binaries.sh says why); the end-to-end tests run
# the bin/gantry just built rather than linking their own.
test: build argocd-binaries test-deps image
	$(GO) vet ./...
	$(MAKE) --no-print-directory test-ui
	hack/test-binaries.sh bin/test $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v /test/e2e)
	GANTRY_BIN=$(CURDIR)/bin/gantry hack/test-binaries.sh bin/test $(TEST_TIMEOUT) ./test/e2e/
	$(MAKE) --no-print-directory test-browser

# What the tests start themselves (Chromium, sshd, git), from Debian's
# packages when missing.
test-deps:
	@hack/test-deps.sh

# The UI's component tests (Vitest, jsdom).
test-ui: $(UI_DEPS)
	cd ui && npx vitest run

# The UI in real headless Chromium against a real `gantry up` (test/browser);
# screenshots land in test/artifacts/browser/. Needs /usr/bin/chromium
# (make test-deps installs it) or CHROMIUM=<path>.
test-browser: bin/gantry kube-binaries $(UI_DEPS) test-deps
	node --test --test-reporter=spec test/browser/*.test.mjs

test-unit:
	$(GO) test -short -count=1 ./...

bench: build
	$(GO) test -tags bench -run '^$$$$' -bench . -benchtime 1x -timeout 60m ./test/bench/
	$(MAKE) --no-print-directory bench-ui

# The web UI with 1,000 applications in headless Chromium (test/bench/ui.mjs):
# first paint of the list and the filters' response, as a table.
bench-ui: bin/gantry kube-binaries $(UI_DEPS) test-deps
	node test/bench/ui.mjs

generate:
	bash hack/generate.sh

# Generated code must match its sources.
verify-generated: generate
	git diff --exit-code -- api config deploy/helm/gantry/crds

clean:
	rm -rf bin internal/webui/dist/app ui/node_modules

FORCE:
