# The project's single entry point. `make tutorial` runs the whole tutorial on the
# embedded synthetic dataset; `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
WORK_DIR ?= work_dirs/tutorial
PROFILE ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.stad-bootstrapped

.PHONY: setup tutorial test test-gpu doctor lint clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt tools/bootstrap.py
	$(PYTHON) tools/bootstrap.py --venv $(VENV)
	touch $(STAMP)

doctor: setup
	$(BIN)/stad doctor

tutorial: setup
	$(BIN)/stad doctor
	$(BIN)/stad run-all --profile $(PROFILE) --work-dir $(WORK_DIR)

test: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The GPU workflow (.github/workflows/gpu.yml), here: every notebook through nbval
# with the GPU profile (the original tutorial's R50 models and pretrained weights)
# on CUDA; then an executed copy of each, outputs included, in
# $(GPU_WORK_DIR)/executed/ (its stages are up to date by then, so that pass only
# shows them), and the summary (`stad run-all`, also up to date) in
# $(GPU_WORK_DIR)/summary.json. The notebooks' parameters cells read STAD_PROFILE,
# STAD_DEVICE, STAD_DATA and STAD_WORK_DIR.
# GPU_DATA: a MultiSports-layout folder (empty: the synthetic set); e.g.
#   stad data download multisports-tiny data/multisports-tiny
#   make test-gpu GPU_DATA=data/multisports-tiny
# Needs internet once for the weights (`stad weights fetch`, or --from DIR).
GPU_PROFILE ?= gpu
GPU_DEVICE ?= cuda
GPU_DATA ?=
GPU_WORK_DIR ?= work_dirs/gpu
GPU_ENV = STAD_PROFILE=$(GPU_PROFILE) STAD_DEVICE=$(GPU_DEVICE) \
	STAD_WORK_DIR=$(abspath $(GPU_WORK_DIR)) $(if $(GPU_DATA),STAD_DATA=$(abspath $(GPU_DATA)))

test-gpu: setup
	$(BIN)/stad doctor
	$(BIN)/stad weights fetch --profile $(GPU_PROFILE)
	$(GPU_ENV) $(BIN)/python -m pytest notebooks $(PYTEST_ARGS)
	mkdir -p $(GPU_WORK_DIR)/executed
	for nb in notebooks/0*.ipynb; do \
	  $(GPU_ENV) $(BIN)/papermill --cwd notebooks "$$nb" \
	    "$(GPU_WORK_DIR)/executed/$$(basename "$$nb")" || exit 1; \
	done
	$(BIN)/stad run-all --profile $(GPU_PROFILE) --device $(GPU_DEVICE) \
	  --work-dir $(GPU_WORK_DIR) $(if $(GPU_DATA),--data $(GPU_DATA))

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
