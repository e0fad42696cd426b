# The two set-up commands of README.md: `make demo` and `make test`.
VENV ?= .venv
# Tools run as `python -m` from the venv: never through the venv's script wrappers, whose
# shebangs a shared install cache may point at another environment's interpreter.
PY := $(VENV)/bin/python
PYTHON ?= python3
DEMO_DB ?= sqlite:///./demo.db
PORT ?= 8000

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

# Installs, creates a site and a token (printed), and serves on http://127.0.0.1:$(PORT).
demo: install
	$(PY) -m chatpulse migrate --database $(DEMO_DB)
	@SITE=$$($(PY) -m chatpulse site create --name "Demo site" --database $(DEMO_DB) | tail -n 1); \
	TOKEN=$$($(PY) -m chatpulse token create --site $$SITE --scope realtime.read --scope events.write \
		--scope config.read --scope config.write --scope admin --database $(DEMO_DB) | tail -n 1); \
	echo; echo "Site:  $$SITE"; echo "Token: $$TOKEN"; \
	echo "Try:   curl -H \"Authorization: Bearer $$TOKEN\" http://127.0.0.1:$(PORT)/api/v3/livechat/realTime/RightNow"; echo; \
	exec $(PY) -m chatpulse serve --port $(PORT) --database $(DEMO_DB)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict src

# The whole test suite: lint, types, then every test (SQLite and PostgreSQL, real HTTP).
test: lint
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache demo.db*
