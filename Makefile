# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint rules wheel-check clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: extract every document of the bundled corpus/ into out/
demo: $(STAMP)
	$(BIN)/zongjie extract corpus/ --out out
	@echo "tables written to out/: documents, figures, rejected, errors (CSV and Parquet)"

## test: lint, then the whole test suite (doctests included)
test: $(STAMP)
	$(BIN)/ruff check extract schemas tests bench
	$(BIN)/python -m pytest -q

## rules: regenerate derived rules data (the jieba user dictionary)
rules: $(STAMP)
	$(BIN)/python -m extract.build_dict

## bench: build a 200 MB archive from corpus/ (bench/data/, reused), time 1 and 2 workers, bare jieba,
## 10/50/200 MB, peak memory and the audit; writes bench/RESULTS.md (about an hour on 2 busy cores)
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) out build dist .pytest_cache .ruff_cache
