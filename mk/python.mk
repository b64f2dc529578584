# Python side of the build, included by the top-level Makefile.
#
#   make venv     .venv with the pinned requirements-dev.txt (reinstalled only when it changes)
#   make install  pip install . into .venv (rebuilt when a file under src/ include/ python/ changes)
#   make demo     train the digits CNN, export, convert, compare PyTorch and LiteRT
#   make pytest   the Python test suite (PYTEST_ARGS=... to pass options)
#
# Stamps live inside .venv, so deleting .venv resets everything.

PYTHON ?= python3.11
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
PYTEST_ARGS ?=

# Content hash of the requirements: a new stamp name whenever they change.
PY_REQ_HASH := $(shell sha256sum requirements-dev.txt 2>/dev/null | cut -c1-16)
PY_VENV_STAMP := $(VENV)/.stamp-$(PY_REQ_HASH)

# Everything the extension and the package are built from. The list itself is hashed into the
# stamp name so that removing or adding a file also triggers a rebuild.
PY_BUILD_INPUTS := $(sort $(shell find src include python -type f \
	\( -name '*.c' -o -name '*.h' -o -name '*.def' -o -name '*.py' \) 2>/dev/null)) \
	setup.py pyproject.toml
PY_INPUTS_HASH := $(shell echo $(PY_BUILD_INPUTS) | sha256sum | cut -c1-16)
PY_INSTALL_STAMP := $(VENV)/.stamp-install-$(PY_INPUTS_HASH)

.PHONY: venv install demo pytest dev

venv: $(PY_VENV_STAMP)

$(PY_VENV_STAMP):
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.stamp-[0-9a-f]*
	touch $@

install: $(PY_INSTALL_STAMP)

# --no-deps: requirements-dev.txt already holds the runtime dependencies;
# --no-build-isolation: builds with the venv's pinned setuptools, no download.
$(PY_INSTALL_STAMP): $(PY_VENV_STAMP) $(PY_BUILD_INPUTS)
	$(VENV_PY) -m pip install --quiet --no-deps --no-build-isolation .
	rm -f $(VENV)/.stamp-install-*
	touch $@

demo: install all
	$(VENV_PY) -m liteport.demo --out out/demo

pytest: install
	$(VENV_PY) -m pytest -q tests $(PYTEST_ARGS)

# The extension built in place (python/liteport/_core*.so): `PYTHONPATH=python $(VENV_PY) ...`
# then uses this checkout's C code without installing it (handy in a git worktree).
dev: $(PY_VENV_STAMP)
	$(VENV_PY) setup.py -q build_ext --inplace
