# Quick start: `make run` opens the app on a built-in example; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml packaging/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c packaging/constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m netbuilder gui digits_cnn

test: $(STAMP)
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n auto

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
