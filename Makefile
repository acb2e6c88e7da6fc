# The project's single entry point. `make tutorial` runs the whole tutorial on the
# embedded synthetic dataset; `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
WORK_DIR ?= work_dirs/tutorial
PROFILE ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.stad-bootstrapped

.PHONY: setup tutorial test doctor lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/bootstrap.py
	$(PYTHON) tools/bootstrap.py --venv $(VENV)
	touch $(STAMP)

doctor: setup
	$(BIN)/stad doctor

tutorial: setup
	$(BIN)/stad doctor
	$(BIN)/stad run-all --profile $(PROFILE) --work-dir $(WORK_DIR)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check stad_helpers tests benchmarks tools

clean:
	rm -rf $(VENV) work_dirs
