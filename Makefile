# gantry's build. `make run` and `make test` build whatever is missing first.
# The Kubernetes binaries are compiled from k8s.io/kubernetes (tools/kube) into bin/
# once per pinned version; Go's build cache makes later rebuilds a matter of linking.

SHELL := /usr/bin/env bash
GO ?= go
KUBE_VERSION := $(shell awk '$$1=="require" && $$2=="k8s.io/kubernetes" {print $$3}' tools/kube/go.mod)
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_STAMP := bin/.kube-$(KUBE_VERSION)
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean
KUBE_CMDS := kube-apiserver kube-controller-manager kube-scheduler kubectl
GANTRY_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
TEST_TIMEOUT ?= 25m
ARGS ?=

.PHONY: all build run test test-unit bench kube-binaries generate verify-generated clean

all: build

build: bin/gantry kube-binaries

# Always handed to go build: its cache decides what is stale.
bin/gantry: FORCE
	$(GO) build -ldflags "-X gantry.dev/gantry/internal/cli.Version=$(GANTRY_VERSION)" -o $@ ./cmd/gantry

# Rebuilt only when the pinned version changes (the stamp names it) or a binary is gone.
kube-binaries:
	@for c in $(KUBE_CMDS); do test -x bin/$$c || rm -f $(KUBE_STAMP); done
	@$(MAKE) --no-print-directory $(KUBE_STAMP)

$(KUBE_STAMP):
	@echo "building Kubernetes $(KUBE_VERSION) components from source (about 7 minutes the first time)..."
	@mkdir -p bin && rm -f bin/.kube-*
	cd tools/kube && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o ../../bin/ $(addprefix k8s.io/kubernetes/cmd/,$(KUBE_CMDS))
	touch $@

run: build
	./bin/gantry up $(ARGS)

# Unit tests, then the end-to-end tests on the real embedded host, apart: run
# together, the packages that start real API servers starve the end-to-end ones
# on a 2-core machine.
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v /test/e2e)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./test/e2e/

test-unit:
	$(GO) test -short -count=1 ./...

bench: build
	$(GO) test -tags bench -run '^$$$$' -bench . -benchtime 1x -timeout 60m ./test/bench/

generate:
	bash hack/generate.sh

# Generated code must match its sources.
verify-generated: generate
	git diff --exit-code -- api config

clean:
	rm -rf bin

FORCE:
