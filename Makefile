# Two commands: `make demo` (install, run every demo with figures) and `make test` (lint + tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMOS := $(sort $(wildcard *_dlvm.py))

.PHONY: demo test lint bench clean

# The stamp files re-run pip only when a requirements file changes.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed
	@for demo in $(DEMOS); do \
		echo "== $$demo"; \
		$(PY) $$demo --visualize --out results/$${demo%_dlvm.py} || exit 1; \
	done

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest

bench: $(VENV)/.installed-dev
	$(PY) bench/speed.py

clean:
	rm -rf results .pytest_cache .ruff_cache
