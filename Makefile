# bogda — every target creates .venv and installs from uv.lock when needed (uv itself comes from pip if missing).
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.synced
UV := $(PY) -m uv

.PHONY: demo test test-release test-fast bench lint format clean

$(STAMP): pyproject.toml uv.lock
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) sync --frozen --extra dev
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bogda demo

test: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not release"

test-release: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile -m release

test-fast: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile -m "not slow and not browser and not postgres"

bench: $(STAMP)
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(VENV)/bin/python $$f; done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
