# pystamps-batch: the README's two commands are `make demo` and `make test`.
# Everything installs into ./.venv from PyPI and crates.io (Rust toolchain + python3 needed).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-python test-rust bench clean native-full-chain-verify

$(STAMP): pyproject.toml Cargo.toml Cargo.lock $(wildcard native/*/Cargo.toml native/*/src/*.rs)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/pystamps demo --out demo-out

test: install test-rust test-python

test-rust:
	cargo test --quiet --release -p pystamps-core -p pystamps-io -p pystamps-native

test-python: install
	$(BIN)/python -m pytest -q tests

# `make bench [BENCH_SIZE=small|large] [BENCH_ARGS=--json]`: python vs native kernels, the
# stage chains (generated dataset, golden multi-2x2; large: the 1M x 60 x 16 dataset) and
# the Rust-only kernel timings of the pystamps-native CLI.  See BENCHMARKS.md.
BENCH_SIZE ?= small
BENCH_ARGS ?=
bench: install
	$(BIN)/pystamps bench --size $(BENCH_SIZE) $(BENCH_ARGS)
	cargo run --quiet --release -p pystamps-native -- bench --size $(BENCH_SIZE)

# `make native-full-chain-verify`: the standalone runner (pystamps-native run --native-only)
# against the Python driver on a synthetic multi-patch dataset (strict verify), then on a
# copy of each golden input against StaMPS (stage 1 strict, later stages scientific).
# NATIVE_END_STEP: the last stage run (all 8 are native).
NATIVE_END_STEP ?= 8
NFCV_DIR ?= $(CURDIR)/target/native-full-chain-verify
GOLDEN ?= $(CURDIR)/../shared/golden
native-full-chain-verify: install
	cargo build --release -p pystamps-native
	rm -rf $(NFCV_DIR) && mkdir -p $(NFCV_DIR)
	$(BIN)/pystamps synth --out $(NFCV_DIR)/py --width 600 --length 600 --rg-patches 2 --az-patches 2 \
		--n-cand 3200 --n-ifg 10 --seed 7 > /dev/null
	cp -r $(NFCV_DIR)/py $(NFCV_DIR)/rs
	$(BIN)/pystamps run --no-mpi --dataset $(NFCV_DIR)/py --start-step 1 --end-step $(NATIVE_END_STEP)
	target/release/pystamps-native run --native-only --dataset $(NFCV_DIR)/rs --start-step 1 \
		--end-step $(NATIVE_END_STEP) --backend native --stage2-kernel-backend native --cpu-workers 0 \
		--stage2-native-threads 0
	$(BIN)/pystamps verify --run $(NFCV_DIR)/rs --golden $(NFCV_DIR)/py --profile strict \
		--through-stage $(NATIVE_END_STEP)
	@for g in small-1patch multi-2x2 dense-1patch snap-1patch; do \
		if [ ! -d $(GOLDEN)/$$g/input ]; then echo "golden $$g not found under $(GOLDEN): skipped"; continue; fi; \
		cp -r $(GOLDEN)/$$g/input $(NFCV_DIR)/$$g || exit 1; \
		target/release/pystamps-native run --native-only --dataset $(NFCV_DIR)/$$g --start-step 1 \
			--end-step $(NATIVE_END_STEP) || exit 1; \
		$(BIN)/pystamps verify --run $(NFCV_DIR)/$$g --golden $(GOLDEN)/$$g/stamps --profile strict \
			--through-stage 1 > $(NFCV_DIR)/$$g.strict1.txt; rc=$$?; head -1 $(NFCV_DIR)/$$g.strict1.txt; \
		[ $$rc -eq 0 ] || exit 1; \
		$(BIN)/pystamps verify --run $(NFCV_DIR)/$$g --golden $(GOLDEN)/$$g/stamps --profile scientific \
			--through-stage $(NATIVE_END_STEP) > $(NFCV_DIR)/$$g.sci.txt; rc=$$?; head -1 $(NFCV_DIR)/$$g.sci.txt; \
		[ $$rc -eq 0 ] || exit 1; \
	done

clean:
	rm -rf $(VENV) target demo-out .pytest_cache
