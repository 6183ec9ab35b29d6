# Two entry points for a fresh machine with only Python 3.11+, make and git:
#   make run   - the service on SQLite with a demo client and list
#   make test  - lint, types and the whole test suite
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
UV_VERSION := 0.13.9

.PHONY: run test lint typecheck pytest bench bench-quick setup clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

# The benchmarks' references (HMA's PDQ index over faiss) as well.
$(VENV)/.bench-synced: $(VENV)/.synced
	$(UV) sync --locked --all-extras --group bench
	touch $@

run: setup
	$(VENV)/bin/hashcheck serve --demo

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest

test: lint typecheck pytest

# Every benchmark at small sizes, in a few minutes; results to a temporary folder.
bench-quick: $(VENV)/.bench-synced
	$(VENV)/bin/python -m bench.quick

clean:
	rm -rf $(TOOLS) $(VENV)
