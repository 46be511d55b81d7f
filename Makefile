# The two commands a newcomer needs: `make run` (the whole stack locally) and `make test`.
# Lambda runs the package on the Python that builds it (Chalice declares pythonX.Y from it): 3.13.
PYTHON ?= python3.13
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench fuzz package clean

$(STAMP): requirements.txt requirements-dev.txt requirements-sam.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The AWS SAM CLI pins older boto3/pydantic than the app: it gets a virtualenv of its own.
	$(PYTHON) -m venv $(VENV)/sam
	$(VENV)/sam/bin/pip install --quiet -r requirements-sam.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## the whole stack on 127.0.0.1 (API on :8000, AWS stand-in on :4599)
	$(PY) -m local.run

test: $(STAMP)  ## the full test suite
	$(PY) -m pytest

FUZZ_REQUESTS ?= 100000
FUZZ_SECONDS ?= 3600

fuzz: $(STAMP)  ## a long fuzz campaign in-process (FUZZ_REQUESTS, at most FUZZ_SECONDS): 5xx and unaccounted inputs
	$(PY) -m tests.fuzz.campaign --requests $(FUZZ_REQUESTS) --seconds $(FUZZ_SECONDS)

lint: $(STAMP)  ## ruff (rules and format) and mypy (strict for chalicelib/)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy chalicelib app.py cli local infra

bench: $(STAMP)  ## every benchmark, one summary line each
	@for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done
	$(PY) -m benchmarks.accuracy.report --seed 7 --customers 2000
	$(PY) -m benchmarks.accuracy.rules_report --seed 7 --seed 11 --seed 13

STAGE ?= prod

package: $(STAMP)  ## the deployment package and the stack's template in out/ (STAGE=staging for another stage)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(PY) -m infra.package out --stage $(STAGE)

clean:
	rm -rf out .local-stack .pytest_cache
