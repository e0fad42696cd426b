# The two set-up commands of README.md: `make demo` and `make test`.
VENV ?= .venv
# Tools run as `python -m` from the venv: never through the venv's script wrappers, whose
# shebangs a shared install cache may point at another environment's interpreter.
PY := $(VENV)/bin/python
PYTHON ?= python3
DEMO_DB ?= sqlite:///./demo.db
PORT ?= 8000
# Under Debian's faketime (`faketime -f '@2026-11-28 04:00:00' make test`), every process the
# run starts keeps the one fake clock instead of starting it again: tests and the servers they
# start read one clock, as on a real machine. Without faketime this variable means nothing.
export FAKETIME_DONT_RESET := 1

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# The browser tests drive Debian's chromium (never `playwright install`).
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	touch $@

# Installs, then serves a throwaway demo (temporary SQLite, a site, a token, simulated traffic)
# on http://127.0.0.1:$(PORT); prints the wallboard URL and the token. Ctrl-C stops and cleans up.
demo: install
	$(PY) -m chatpulse demo --port $(PORT)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict src

# The whole test suite: lint, types, then every test (SQLite and PostgreSQL, real HTTP).
# The scenario runner checks times measured "up to now" with a tolerance of a few seconds:
# it runs first and alone, so that the parallel tests cannot slow it down.
test: lint
	$(PY) -m pytest -q tests/scenarios
	$(PY) -m pytest -n 2 -q --ignore=tests/scenarios

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache demo.db*
