# One command for each loop people run; CI calls the same targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo run worker screenshots bench test test-postgres lint format lock clean soak

# Reinstall when the dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/calendar-sync demo

run: $(STAMP)
	$(BIN)/calendar-sync run

worker: $(STAMP)
	$(BIN)/calendar-sync worker

# PNGs of the main pages for the README, from a freshly seeded demo (needs chromium).
# Timings of the decision step and of a big first sync, as ratios within one run, the Meet
# calls per video session, the Calendar add-on's answer times and a cycle run by 1, 2 and 4
# worker processes on Postgres (see docs/performance.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_decide.py
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_meet.py
	$(BIN)/python benchmarks/bench_addon.py
	$(BIN)/python benchmarks/bench_workers.py

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

lint: $(STAMP)
	$(BIN)/ruff check calendar_sync tests benchmarks scripts
	$(BIN)/ruff format --check calendar_sync tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The coverage floor is today's figure: raise it when coverage grows, never lower it.
test: lint
	$(BIN)/pytest --cov=calendar_sync --cov-report=term:skip-covered --cov-fail-under=93

# The no-surprises state machine for longer, with fresh random sequences each run.
soak: $(STAMP)
	SOAK_EXAMPLES=$${SOAK_EXAMPLES:-200} SOAK_STEPS=$${SOAK_STEPS:-100} $(BIN)/pytest -q tests/test_no_surprises.py

# The whole suite again with the app on Postgres (storage tests use both in every run).
test-postgres: $(STAMP)
	TEST_DATABASE=postgres $(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff format calendar_sync tests benchmarks scripts
	$(BIN)/ruff check --fix calendar_sync tests benchmarks scripts

# requirements.txt, what App Engine installs: every runtime dependency of pyproject.toml (and
# gunicorn) pinned with its hashes, resolved from PyPI alone whatever pip's local settings.
# LOCK_ARGS=--upgrade moves every pin to the newest allowed; --upgrade-package NAME one.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[lock]'
	env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	  CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	  --extra appengine --strip-extras --output-file requirements.txt $(LOCK_ARGS) pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
