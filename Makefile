# bogda — every target creates .venv and installs from uv.lock when needed (uv itself comes from pip if missing).
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.synced
UV := $(PY) -m uv

ESAT_VENV := .esat-venv
ESAT_STAMP := $(ESAT_VENV)/.synced

.PHONY: demo test test-release test-fast bench lint format clean esat

$(STAMP): pyproject.toml uv.lock
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) sync --frozen --extra dev
	@touch $(STAMP)

# ESAT (EPA's PMF toolkit, governance.md §3.11) pins its own numpy/pandas/scipy/numba: its own venv, never imported
# by the platform; bogda runs src/bogda/tracing/esat_worker.py with this python.
$(ESAT_STAMP): esat-requirements.txt
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) venv --quiet --allow-existing --python $(PY) $(ESAT_VENV)
	$(UV) pip sync --quiet --python $(ESAT_VENV)/bin/python esat-requirements.txt
	@touch $(ESAT_STAMP)

esat: $(ESAT_STAMP)

demo: $(STAMP) $(ESAT_STAMP)
	$(VENV)/bin/bogda demo

test: $(STAMP) $(ESAT_STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not release"

test-release: $(STAMP) $(ESAT_STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile -m release

test-fast: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile -m "not slow and not browser and not postgres"

bench: $(STAMP) $(ESAT_STAMP)
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(VENV)/bin/python $$f; done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) $(ESAT_VENV) .pytest_cache .ruff_cache test-artifacts
