# Two entry points: `make demo` (the main job) and `make test` (the suite). Both create .venv first.
# The demo installs only the runtime dependencies (the test/web/lint extras are for `make test`),
# with the venv's own pip (any pip >= 21.3 installs a pyproject package editable) and
# --no-compile: byte-compiling every installed module (torch alone has thousands) took 24 of the
# install's 49 s on a 2-core machine; Python compiles the few hundred the demo imports on first use.
# `make test` byte-compiles the venv once, since the suite starts many Python processes.
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

$(RUN_STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-compile -c constraints.txt -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $(STAMP)

.PHONY: install demo test lint
install: $(STAMP)

demo: $(RUN_STAMP)
	$(VENV)/bin/mtlaqa demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy
