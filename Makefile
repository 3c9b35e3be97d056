# Python used to create the virtualenv: python3.11 when present, else python3.
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
# Written once `pip install -e ".[dev]"` succeeded; redone when pyproject.toml changes.
STAMP := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help install .venv demo test lint clean distclean

help:
	@echo "make demo       train, export and serve the demo model (creates $(VENV) first)"
	@echo "make test       ruff check + pytest (2 workers)"
	@echo "make lint       ruff check"
	@echo "make clean      remove caches and build files (keeps $(VENV))"
	@echo "make distclean  clean, and remove $(VENV)"

install .venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	touch $@

demo: $(STAMP)
	$(BIN)/seqapps demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
