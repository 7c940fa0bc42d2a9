# Pingan — two commands: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
export PINGAN_DEMO_PASSWORD

.PHONY: demo test lint messages install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python tools/fetch_assets.py
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

messages: $(STAMP)
	$(BIN)/pybabel -q compile -d pingan/locale -D django -f

demo: $(STAMP) messages
	$(BIN)/pingan demo

lint: $(STAMP)
	$(BIN)/ruff check pingan tests
	$(BIN)/mypy pingan/core pingan/accounts pingan/geo pingan/tracking pingan/corrections

test: $(STAMP) messages lint
	PINGAN_ENV=test $(BIN)/pingan check
	PINGAN_ENV=test $(BIN)/pingan makemigrations --check --dry-run
	PG_URL=$(PG_URL) tools/test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
