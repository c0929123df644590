# Two commands: `make run` (set up, demo data, serve) and `make test` (set up, whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install system frontend browser lint bench clean

# Front-end packages (web/frontend/package-lock.json) are installed with `npm ci` and their
# UMD bundles and CSS copied into web/static/vendor/ (gitignored): nothing is fetched at run time.
FRONTEND := web/frontend
NPM_STAMP := $(FRONTEND)/node_modules/.ci-stamp
VENDOR_STAMP := web/static/vendor/.built

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python system
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# Debian packages (installed as root when missing): a CJK font for the sealed PDFs and seal
# images, and poppler's pdfsig, which the tests use to check the seals independently.
system:
	@ls /usr/share/fonts/truetype/wqy/wqy-*.ttc >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei)
	@command -v pdfsig >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq poppler-utils) || \
		echo "warning: could not install poppler-utils (pdfsig); its seal checks will be skipped"

$(NPM_STAMP): $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd $(FRONTEND) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR_STAMP): $(NPM_STAMP) $(FRONTEND)/build.js $(wildcard web/static/src/*.js)
	cd $(FRONTEND) && node build.js
	touch $@

frontend: $(VENDOR_STAMP)

# The browser tests (tests/browser) drive Debian's chromium with Playwright (the test extra);
# installed as root when missing. Without it they are skipped unless BPM_REQUIRE_BROWSER=1.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium) || \
		echo "warning: could not install chromium; the browser tests will be skipped"

install: $(STAMP) $(VENDOR_STAMP)

run: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/bpm init --demo
	@echo "Open http://127.0.0.1:8000  (demo logins: username = role key, password demo)"
	$(BIN)/bpm serve --host 127.0.0.1 --port 8000 --demo-workers

test: $(STAMP) $(VENDOR_STAMP) browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check engine web bpm_cli tests bench
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) var *.egg-info $(FRONTEND)/node_modules web/static/vendor test-artifacts

# The production shape on one machine (README "Scaling out"): PostgreSQL from BPM_DATABASE_URL
# (default: database bpm on the local cluster, created if missing), gunicorn with several
# workers, two timer workers and the Prefect jobs, supervised by `bpm stack up` (Ctrl-C stops).
SCALE_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/bpm
.PHONY: scale-out
scale-out: $(STAMP) $(VENDOR_STAMP)
	export BPM_DATABASE_URL="$${BPM_DATABASE_URL:-$(SCALE_DATABASE_URL)}" && \
	$(BIN)/bpm stack ensure-db && \
	$(BIN)/bpm init --demo && \
	echo "Open http://127.0.0.1:8000  (demo logins: username = role key, password demo)" && \
	exec $(BIN)/bpm stack up --host 127.0.0.1 --port 8000 --timer-workers 2
