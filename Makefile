# pystamps-batch: the README's two commands are `make demo` and `make test`.
# Everything installs into ./.venv from PyPI and crates.io (Rust toolchain + python3 needed).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-python test-rust bench clean

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
	cargo test --quiet --release -p pystamps-core -p pystamps-native

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

clean:
	rm -rf $(VENV) target demo-out .pytest_cache
