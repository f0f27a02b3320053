# The two commands: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-services bench lint clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/hermes tui

test: $(TEST_STAMP) test-services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Real servers some tests need (dovecot for e-mail, Synapse for Matrix): each script in
# tests/setup/ installs its server when it can (apt-get as root, a venv from PyPI) and is a
# no-op when it is already there. A failure only makes those tests skip, with the reason.
test-services: $(TEST_STAMP)
	@for script in tests/setup/*.sh; do \
		[ -e "$$script" ] || continue; \
		bash "$$script" || echo "warning: $$script failed; the tests that need it will skip"; \
	done

# The Telegram bench compares with a floor bot that sends as fast as it can, so by default both
# run without proactive rate limits; BENCH_ARGS="--runs 3" measures with Telegram's limits on.
BENCH_ARGS ?= --runs 3 --no-rate-limits

bench: $(TEST_STAMP)
	$(BIN)/python bench/console_overhead.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/telegram_bench.py $(BENCH_ARGS)

# The README's pictures, from a real embedded engine with loopback peers: SVG, and PNG through
# cairosvg (the `screenshots` extra; installed here only when it is missing).
screenshots: $(TEST_STAMP)
	$(BIN)/python -c 'import cairosvg' 2>/dev/null || $(BIN)/pip install --quiet -e '.[screenshots]'
	$(BIN)/python -m tests.screenshots

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache
