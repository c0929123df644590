# Two commands: `make run` (set up, demo data, serve) and `make test` (set up, whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install system lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python system
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages (installed as root when missing): a CJK font for the sealed PDFs and seal
# images, and poppler's pdfsig, which the tests use to check the seals independently.
system:
	@ls /usr/share/fonts/truetype/wqy/wqy-*.ttc >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei)
	@command -v pdfsig >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq poppler-utils) || \
		echo "warning: could not install poppler-utils (pdfsig); its seal checks will be skipped"

install: $(STAMP)

run: $(STAMP)
	$(BIN)/bpm init --demo
	@echo "Open http://127.0.0.1:8000  (demo logins: username = role key, password demo)"
	$(BIN)/bpm serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check engine web tests bench

bench: $(STAMP)
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) var *.egg-info
