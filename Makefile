# Steward: `make demo` and `make test` work on a fresh clone (they create .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit bench clean charts

$(STAMP): pyproject.toml src/steward/ui/js/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo,ray]'
	$(MAKE) charts
	touch $(STAMP)

# The dashboard's charts: plotly.js's basic bundle (1.2 MB) from the npm registry, pinned
# in src/steward/ui/js/package-lock.json. Without npm the server serves the full bundle
# (4.6 MB) that ships inside the plotly Python package instead.
charts:
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix src/steward/ui/js --no-audit --no-fund --loglevel=error; \
	else \
	  echo "npm not found: the dashboard will serve plotly's full bundle from the Python package"; \
	fi

demo: $(STAMP)
	rm -rf .steward-demo
	$(BIN)/steward demo --home .steward-demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck layers unit

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,demo,ray,bench]'
	touch $@

# The serving benchmark's peer, MLServer, in a venv of its own: it pins FastAPI, pydantic
# and uvicorn versions that differ from Steward's. Same ONNX Runtime as Steward's.
MLSERVER_VENV := .venv-mlserver

$(MLSERVER_VENV)/.installed: | $(STAMP)  # order-only: needs .venv for the ORT version
	$(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLSERVER_VENV)/bin/python -m pip install --quiet mlserver==1.7.1 \
		onnxruntime==$$($(BIN)/python -c 'from importlib.metadata import version; print(version("onnxruntime"))')
	touch $@

# The drift benchmark's peer, Evidently, in a venv of its own (it brings plotly, nltk,
# statsmodels and litestar, none of which Steward needs). Evidently 0.7.23 imports pandas
# internals that pandas 3 removed, so pandas stays on 2.x there.
EVIDENTLY_VENV := .venv-evidently

$(EVIDENTLY_VENV)/.installed:
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet evidently==0.7.23 pandas==2.3.3
	touch $@

bench: $(VENV)/.bench-installed $(MLSERVER_VENV)/.installed $(EVIDENTLY_VENV)/.installed
	$(BIN)/python bench/run.py --output docs/benchmarks.md

clean:
	rm -rf $(VENV) $(MLSERVER_VENV) $(EVIDENTLY_VENV) src/steward/ui/js/node_modules .steward-demo .pytest_cache .mypy_cache .ruff_cache
