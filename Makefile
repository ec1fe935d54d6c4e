# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint rules wheel-check clean bench model real-check real-eval

# The modules compiled at install (pyproject.toml's mypyc hook): an edit to one needs a reinstall,
# else the compiled copy of the old code keeps running.
COMPILED := $(shell sed -n '/hooks.mypyc]/,/^]/s/^ *"\([^"]*\.py\)",*$$/\1/p' pyproject.toml)

$(STAMP): pyproject.toml $(COMPILED)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: extract every document of the bundled corpus/ into out/
demo: $(STAMP)
	$(BIN)/zongjie extract corpus/ --out out
	@echo "tables written to out/ (CSV and Parquet): documents, figures, rejected, errors, records, findings; zongjie report out for the HTML report"

## test: lint, then the whole test suite (doctests included); `browser` readies the browser tests
test: $(STAMP) browser
	$(BIN)/ruff check extract schemas tests bench
	$(BIN)/python -m pytest -q

## rules: regenerate derived rules data (the jieba user dictionary)
rules: $(STAMP)
	$(BIN)/python -m extract.build_dict

## model: retrain the packaged figure model (extract/model/trained) from the gold in corpus/ (heldout/
## skipped), seed 0: the same gold gives the same weights; about 5 minutes on one core
model: $(STAMP)
	rm -rf extract/model/trained
	$(BIN)/zongjie train --gold corpus/ --out extract/model/trained --seed 0

## real-check: which real-page texts (corpus/real/texts, git-ignored) are missing or changed, and how
## to gather them again from the manifest
real-check:
	$(PYTHON) extract/realpages.py check

## real-eval: extract the real pages present and print the scorer's lines for real-dev, real-test and
## each kind of document (says so plainly when the texts are absent)
real-eval: $(STAMP)
	$(BIN)/python -m extract.realpages eval --out out/real

## bench: build a 200 MB archive from corpus/ (bench/data/, reused), time 1 and 2 workers, bare jieba,
## 10/50/200 MB, peak memory and the audit; writes bench/RESULTS.md (about an hour on 2 busy cores)
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## browser: Debian's chromium, chromedriver and a CJK font for the browser tests, with apt-get when
## missing (as root, or with passwordless sudo). Without apt or those rights the browser tests skip
## and say why; under CI (root) a failed install makes them fail instead.
.PHONY: browser report-screenshot
BROWSER_READY = command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
	&& fc-list 2>/dev/null | grep -qiE 'Noto Sans CJK|WenQuanYi|Source Han'
browser:
	@if $(BROWSER_READY); then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "browser: chromium/chromedriver/CJK font missing, no root or sudo: browser tests will skip"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "browser: no apt-get: browser tests will skip"; exit 0; fi; \
	for try in 1 2 3; do \
		echo "browser: apt-get install chromium chromium-driver fonts-noto-cjk (try $$try)"; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
		&& $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-noto-cjk \
			>/dev/null && break; \
		sleep 10; \
	done; \
	if $(BROWSER_READY); then echo "browser: ready"; else echo "browser: install failed: browser tests skip (fail under CI)"; fi

## report-screenshot: docs/report.png, a page of the bundled corpus's report in headless Chromium
report-screenshot: $(STAMP) browser
	rm -rf .report-shot
	$(BIN)/zongjie extract corpus/ --out .report-shot --workers 1 --no-progress
	$(BIN)/zongjie report .report-shot
	$(BIN)/python docs/screenshot.py .report-shot docs/report.png

clean:
	rm -rf $(VENV) out build dist .pytest_cache .ruff_cache
	find extract -name '*.so' -delete; rm -f *__mypyc*.so
