# Transformers for Audio — the two commands a reader needs:
#   make book   set up, build the offline data and the HTML book from the committed outputs
#   make test   set up, then run the whole test suite (unit tests, nbval on every notebook, book build)
# Everything runs in .venv with the exact versions in requirements/constraints.txt.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
NOTEBOOKS = $(shell $(PY) -m audioformers.booktools notebooks)
BOOK_FLAGS := --warningiserror --nitpick --keep-going --builder html

.PHONY: help install debian data book test unit nbval build-check reproduce bench clean

help:
	@echo "make book       build the HTML book (sets up .venv, Debian audio packages, offline data)"
	@echo "make test       run unit tests, nbval (smoke profile) on every notebook, and the book build"
	@echo "make reproduce  re-execute every notebook at the book profile and refresh outputs and results/"
	@echo "make bench      run the benchmarks and write results/bench.json"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[book,test,fallback]"
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) --no-deps tinysoundfont || echo "note: tinysoundfont unavailable; the PyPI-only data fallback will be limited"
	@touch $(STAMP)

install: $(STAMP)

debian:
	@bash data_scripts/install_debian_packages.sh

data: install debian
	$(PY) data_scripts/build_datasets.py

book: data
	$(VENV)/bin/jupyter-book build . $(BOOK_FLAGS)
	@echo
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

# The book build comes first and pytest last, so the run ends with pytest's summary line.
test: data build-check
	BOOK_PROFILE=smoke $(PY) -m pytest lib/tests $(NOTEBOOKS) --nbval-lax --nbval-current-env -p no:cacheprovider

build-check: install
	$(VENV)/bin/jupyter-book build . $(BOOK_FLAGS) --path-output $(VENV)/book-check > $(VENV)/book-check.log 2>&1 \
	  || { tail -n 40 $(VENV)/book-check.log; echo "jupyter-book build failed (warnings are errors)"; exit 1; }
	@echo "book build: OK (warnings as errors)"

unit: install
	$(PY) -m pytest lib/tests

nbval: data
	BOOK_PROFILE=smoke $(PY) -m pytest $(NOTEBOOKS) --nbval-lax --nbval-current-env -p no:cacheprovider

reproduce: data
	BOOK_PROFILE=book $(PY) -m audioformers.booktools execute $(NOTEBOOKS)

bench: data
	$(PY) bench/run_all.py --time-notebooks --readme

clean:
	rm -rf _build $(VENV)/book-check
