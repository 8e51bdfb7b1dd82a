# cnnlab — the two commands of the README do all set-up themselves:
#   make reproduce   the lecture's 3-class experiment end to end (the main job)
#   make test        every check CI runs
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export GOTOOLCHAIN := go1.27.3
# GoMLX's pure-Go backend has its fast (SIMD) kernels only with this experiment: measured 9× on the
# MLP, 2.5× on the lecture CNN (docs/benchmarks.md). XLA is unaffected.
export GOEXPERIMENT := simd
GOBIN := $(shell GOTOOLCHAIN=local go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
OUT ?= out
SETUP_FLAGS ?=
GO_PACKAGES := ./...

.PHONY: setup setup-all web-test lab-test docker-lint docker-build docker-check build reproduce smoke test vet fmt-check go-test notebooks notebooks-check notebooks-write lab help

help:
	@echo "make reproduce | make test | make setup | make build | make smoke"

## setup: install the toolchain, tools and XLA's CPU plugin (idempotent).
setup:
	@bash scripts/setup.sh $(SETUP_FLAGS)

## setup-all: also Jupyter with GoNB, the ONNX checker and Runtime, Chromium and the page's npm packages.
setup-all:
	@bash scripts/setup.sh --notebooks --onnx --browser $(SETUP_FLAGS)

## build: build the cnnlab command into bin/.
build: setup
	go build -o bin/cnnlab ./cmd/cnnlab

## reproduce: the main job — the lecture's 3-class experiment, results under $(OUT)/reproduce.
reproduce: build
	./bin/cnnlab reproduce --out $(OUT)/reproduce

## smoke: a small conv net forward and backward on XLA CPU and on the go backend, compared.
smoke: build
	./bin/cnnlab smoke --backend xla:cpu --compare go

vet:
	go vet $(GO_PACKAGES)

fmt-check:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi; echo "gofmt: clean"

go-test:
	gotestsum --format testname -- -count=1 -timeout 30m $(GO_PACKAGES)

## notebooks: execute every notebook headlessly, CI-sized (CNNLAB_QUICK=1); committed files unchanged.
notebooks: build
	bash scripts/setup.sh --notebooks --onnx
	CNNLAB_QUICK=1 bash scripts/run-notebooks.sh run

## notebooks-check: the committed notebooks were executed top to bottom, without errors, with clean metadata.
notebooks-check:
	bash scripts/setup.sh --notebooks
	bash scripts/run-notebooks.sh check

## notebooks-write: execute every notebook with the lecture's full settings and save the outputs.
notebooks-write: build
	bash scripts/setup.sh --notebooks --onnx
	bash scripts/run-notebooks.sh run --write

## lab: start JupyterLab with the GoNB kernel on the notebooks (http://localhost:8888).
lab: build
	bash scripts/setup.sh --notebooks --onnx
	CNNLAB_ROOT=$(CURDIR) JUPYTER_DATA_DIR=$${CNNLAB_HOME:-$$HOME/.local/share/cnnlab}/venv/share/jupyter \
	  $${CNNLAB_HOME:-$$HOME/.local/share/cnnlab}/venv/bin/jupyter lab --notebook-dir=notebooks $(LAB_FLAGS)

## web-test: the browser demo in headless Chromium (exports a model, classifies 20 real images).
web-test: build
	bash scripts/test-web.sh

## lab-test: the notebooks' interactive widgets in JupyterLab, in headless Chromium (move a slider, see the output change).
lab-test: build
	bash scripts/test-lab-widgets.sh

## docker-lint: hadolint on the Dockerfiles, shellcheck on the scripts (pinned wheels from PyPI).
docker-lint:
	bash scripts/lint-dockerfiles.sh

## docker-build: builds docker/Dockerfile (Docker, else buildah; base from the registry, else debootstrap).
docker-build:
	bash scripts/docker-build.sh $(DOCKER_BUILD_FLAGS)

## docker-check: builds the CPU image, then runs it as student: JupyterLab and its token, a notebook, cnnlab smoke and reproduce --quick.
DOCKER_CHECK_NOTEBOOK ?= notebooks/01_cifar100.ipynb
docker-check: docker-build
	bash scripts/docker-run-check.sh --notebook $(DOCKER_CHECK_NOTEBOOK) --resolve-cuda $(DOCKER_CHECK_FLAGS)

## test: everything CI checks, after set-up; go test's summary comes last.
test: setup-all build vet fmt-check docker-lint smoke notebooks-check notebooks web-test lab-test docker-check go-test
