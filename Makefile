# The commands of the README. `demo` and `test` set up the virtual environment first, so
# they work on a fresh machine; torch comes from the CPU wheel before anything asks for it.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# setuptools says "Editable installation. Please be careful with folders in your working
# directory with the same name as your package" for every editable install whose package
# folders are mapped (vlmr1 <- core/), whichever editable mode is used. No folder here is
# named vlmr1, so the notice does not apply; this filter hides that one message only.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: setup demo test
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(QUIET_EDITABLE) $(PY) -m pip install -q -e '.[train,dev]'
	touch $@

demo: setup
	$(VENV)/bin/vlmr1 demo --out runs/demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)
