# PhantomLab: two entry points, both self-contained on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYDIRS := $(wildcard src tests benchmarks examples)

.PHONY: demo test lint types pytest slow load bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PhantomLab needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python examples/run_demo.py --out demo-output

lint: $(STAMP)
	$(BIN)/ruff check $(PYDIRS)
	$(BIN)/ruff format --check $(PYDIRS)

types: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -m "not slow" -n 2

test: lint types pytest

slow: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -m slow

# the clinic under load: 20 clinicians for 60 s against phantomlab serve on loopback (docs/clinic.md)
load: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -s -m slow tests/web/test_load.py

# the bench extra (torch) lets Optuna's GPSampler run in benchmarks/bench_optimize.py
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-output .mypy_cache .ruff_cache .pytest_cache
