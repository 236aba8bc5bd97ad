# leadscore: `make` alone lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help setup demo test browser lint format bench clean reset

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leadscore needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,spark]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv with leadscore and its dev tools (the other targets do this for you)

demo: $(STAMP) ## run the main job on the embedded default (simulate, validate, ...)
	$(BIN)/leadscore demo

test: $(STAMP) browser ## run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadfile

browser: ## install Debian's chromium for the browser tests (as root; without it they skip)
	@if [ ! -x $(CHROMIUM) ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (Debian package) for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: $(CHROMIUM) is missing and cannot be installed here: browser tests will skip"; \
	  fi; \
	fi

lint: $(STAMP) ## ruff, ruff format --check and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## run the benchmarks (prints tables, writes benchmarks/results/*.json)
	$(BIN)/python -m benchmarks

clean: ## remove caches (keeps .venv and the data home)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis

reset: ## delete the data home .leadscore (simulated data, event log, models)
	rm -rf .leadscore
