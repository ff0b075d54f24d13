# Tokenrank: `make run` (dashboard with demo data) and `make test` (the whole suite).
# Needs only Python 3.12+; PostgreSQL and Redis are embedded unless DATABASE_URL /
# CELERY_BROKER_URL are set. The interpreter is found here because `python3` may be older.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= $(shell for c in python3.13 python3.12 python3 $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	$$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v $$c; break; }; done)

.PHONY: run test lint bench loadtest clean browser

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12+ not found: install it or pass PYTHON=/path/to/python3.12"; exit 1; }
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py serve

# Browser tests drive Debian's Chromium (never a browser Playwright downloads itself).
browser:
	@command -v chromium >/dev/null || { \
		echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| [ "$$TOKENRANK_SKIP_BROWSER_TESTS" = 1 ] \
		|| { echo "chromium could not be installed: the browser tests cannot run (TOKENRANK_SKIP_BROWSER_TESTS=1 opts out)"; exit 1; }; }

test: $(BIN)/.installed browser
	$(BIN)/ruff check .
	TOKENRANK_DATA_DIR=$${TOKENRANK_DATA_DIR:-$(CURDIR)/var/test} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench: $(BIN)/.installed
	TOKENRANK_DATA_DIR=$${TOKENRANK_DATA_DIR:-$(CURDIR)/var/bench} $(BIN)/python benchmarks/run.py $(BENCH_ARGS)

loadtest: $(BIN)/.installed
	TOKENRANK_DATA_DIR=$${TOKENRANK_DATA_DIR:-$(CURDIR)/var/bench} $(BIN)/python benchmarks/loadtest.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
