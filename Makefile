# The project's single entry point. `make tutorial` runs the whole tutorial on the
# embedded synthetic dataset; `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
WORK_DIR ?= work_dirs/tutorial
PROFILE ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.stad-bootstrapped

.PHONY: setup tutorial test doctor lint clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml tools/bootstrap.py
	$(PYTHON) tools/bootstrap.py --venv $(VENV)
	touch $(STAMP)

doctor: setup
	$(BIN)/stad doctor

tutorial: setup
	$(BIN)/stad doctor
	$(BIN)/stad run-all --profile $(PROFILE) --work-dir $(WORK_DIR)

test: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Headless Chromium for the rendering tests (Debian packages). Installed when we
# can (root + apt-get); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: the rendering tests will be skipped"; }

lint: setup
	$(BIN)/ruff check stad_helpers tests benchmarks tools

clean:
	rm -rf $(VENV) work_dirs
