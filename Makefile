# exchange.dr — the two commands a new user runs:  make demo   and   make test
# Each creates .venv inside the repo when it is missing and installs the pinned
# requirements and the lab (pip install -e lab) before running.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean lab-start lab-stop bench

$(STAMP): requirements/dev.txt requirements/runtime.txt lab/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e lab
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	tools/install_chromium.sh
	$(PY) -m pytest -q -p no:cacheprovider lab/tests $(wildcard tests/integration)
	PYTHON=$(PY) tools/check.sh
	PYTHON=$(PY) tools/check_packaging.sh
	PYTHON=$(PY) tools/molecule.sh

bench: $(STAMP)
	$(PY) bench/copy_status_bench.py

clean:
	rm -rf $(VENV) .pytest_cache
