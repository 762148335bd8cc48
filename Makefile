# Two entry points: `make run` and `make test`. Everything else is their plumbing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv/bin
CHROMIUM_PATH ?= /usr/bin/chromium
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
export CHROMIUM_PATH

.PHONY: run test lint bench install install-dev browser

# uv itself, when the machine has none: a private venv, nothing installed system-wide.
.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(filter .tools/bin/uv,$(UV))
	$(UV) sync --frozen --no-dev --python $(PYTHON)

install-dev: $(filter .tools/bin/uv,$(UV))
	$(UV) sync --frozen --python $(PYTHON)

run: install
	$(VENV)/python manage.py run_console

# The e2e tests drive the system Chromium; only without one do we ask Playwright for its own.
browser: install-dev
	@if [ -x "$(CHROMIUM_PATH)" ]; then echo "Browser: $(CHROMIUM_PATH)"; \
	else echo "No Chromium at $(CHROMIUM_PATH); installing Playwright's"; $(VENV)/playwright install chromium; fi

lint: install-dev
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	VAR_DIR=$(CURDIR)/var/test $(VENV)/mypy
	VAR_DIR=$(CURDIR)/var/test $(VENV)/python manage.py makemigrations --check --dry-run

test: lint browser
	VAR_DIR=$(CURDIR)/var/test $(VENV)/python -m pytest $(PYTEST_ARGS)

# The benchmark (see README, "Benchmark"). It installs Debian's wrk when it can (as root); without
# it a small Python client generates the load. BENCH_SMOKE=1: tiny sizes, a temporary directory.
# install-dev, not install: a plain sync would remove the test tools from a shared .venv.
bench: install-dev
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk) \
		|| echo "wrk could not be installed; using the Python load client"
	$(VENV)/python -m bench.run $(BENCH_ARGS)
