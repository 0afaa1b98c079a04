# Steward: `make demo` and `make test` work on a fresh clone (they create .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo,ray]'
	touch $(STAMP)

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

bench: $(VENV)/.bench-installed $(MLSERVER_VENV)/.installed
	$(BIN)/python bench/run.py --output docs/benchmarks.md

clean:
	rm -rf $(VENV) $(MLSERVER_VENV) .steward-demo .pytest_cache .mypy_cache .ruff_cache
