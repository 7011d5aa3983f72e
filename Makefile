# The two commands of the README. Both set up a virtual environment first, so they
# work on a fresh machine; torch comes from the CPU wheel before anything asks for it.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,dev]'
	touch $@

demo: setup
	$(VENV)/bin/vlmr1 demo --out runs/demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)
