# omicsd — the two commands a user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: install dev run test lint typecheck imports unit bench clean system-deps bytecode

## install: create .venv and install omicsd with its runtime dependencies (and the system packages it uses)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@bash scripts/system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

## dev: install plus the test and lint tools
dev: $(VENV)/.dev-installed

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

## bytecode: compile omicsd's modules ahead (an editable install gets no .pyc, and with PYTHONDONTWRITEBYTECODE
## set every engine driver started without the warm helpers would compile them again)
bytecode: install
	@$(BIN)/python -m compileall -q omicsd >/dev/null

## run: install, then serve on the embedded defaults (127.0.0.1:8765, data in ./.omicsd, SQLite)
run: install bytecode
	$(BIN)/omicsd serve

## test: lint, type check, import contracts and the whole test suite (SQLite and PostgreSQL)
test: dev lint typecheck imports unit

lint: dev
	$(BIN)/ruff check omicsd tests bench
	$(BIN)/ruff format --check omicsd tests bench

typecheck: dev
	$(BIN)/mypy

imports: dev
	$(BIN)/lint-imports

unit: dev bytecode
	$(BIN)/pytest $(PYTEST_ARGS)

## bench: the benchmark suite (see bench/README.md)
bench: dev bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

system-deps:
	@bash scripts/system-deps.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
