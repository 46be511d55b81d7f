# The two commands a newcomer needs: `make run` (the whole stack locally) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench package clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## the whole stack on 127.0.0.1 (API on :8000, AWS stand-in on :4599)
	$(PY) -m local.run

test: $(STAMP)  ## the full test suite
	$(PY) -m pytest

lint: $(STAMP)  ## ruff (rules and format) and mypy (strict for chalicelib/)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy chalicelib app.py cli local infra

bench: $(STAMP)  ## every benchmark, one summary line each
	@for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done
	$(PY) -m benchmarks.accuracy.report --seed 7 --customers 2000

package: $(STAMP)  ## the deployment package and SAM template in out/
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(PY) -m infra.package out

clean:
	rm -rf out .local-stack .pytest_cache
