# The two commands of the README: `make run` (the whole pipeline on the CPU twin) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup run test
setup: $(VENV)/.gr_colab_installed

$(VENV)/.gr_colab_installed: requirements-cpu.txt requirements.txt pyproject.toml scripts/setup.sh scripts/install_llamacpp.sh
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/gr-colab run

test: setup
	$(PY) -m pytest
