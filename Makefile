# xbench: `make help` lists the targets. `make test` / `make bench` create .venv first.
# PY=python3 make <target> uses an interpreter that already has the frameworks instead.
BASE_PY ?= python3
VENV    := .venv
ifdef PY
PYTHON  := $(PY)
ENV     :=
else
PYTHON  := $(VENV)/bin/python
ENV     := $(VENV)/.installed
endif
XBENCH  := $(PYTHON) -m xbench
PYTEST  := $(PYTHON) -m pytest
# import-linter's `lint-imports`, run by the chosen interpreter (no dependency on a bin/ path)
LINT_IMPORTS := $(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"

.DEFAULT_GOAL := help
.PHONY: help install test bench check report compare baseline study lint ab robustness fuzz mutate profile durations

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml constraints.txt
	$(BASE_PY) -m venv $(VENV) && $(VENV)/bin/pip install -q -c constraints.txt -e ".[torch,jax,plots,study,frames,dev]"
	touch $@

install: $(ENV) ## create .venv with torch, jax, optax and the dev tools (exact versions)

test: $(ENV) ## run the test suite (benchmark bodies run once, untimed; the long process tests: make robustness; FLAGS="-k ...")
	$(PYTEST) -q --benchmark-disable -m "not long" $(FLAGS) || { rc=$$?; [ $$rc -ne 5 ] || echo "make test: pytest collected no test" >&2; exit $$rc; }

bench: $(ENV) ## timed update/training steps on CPU, JSON to results/<machine>/ (QUICK=1: fewer sizes; FLAGS="--threads 1 ...")
	$(XBENCH) bench $(if $(QUICK),--quick) $(FLAGS)

check: $(ENV) ## the equivalence catalogue, float64 and float32 (FLAGS="--publish": save it for the report)
	$(XBENCH) check $(FLAGS)

report: $(ENV) ## results/RESULTS.md, plots, README headline, docs figures (FLAGS="RUN.json --out X": only those)
	$(XBENCH) report $(if $(FLAGS),$(FLAGS),--readme README.md --docs docs)

compare: $(ENV) ## check now + time this checkout against the baseline revision, interleaved (exit 1 on a regression)
	$(XBENCH) compare --against results/baseline $(FLAGS)

baseline: $(ENV) ## make the checked-out commit the baseline revision, with a check run now (REASON="why" required)
	$(XBENCH) compare --against results/baseline --update-baseline --reason "$(REASON)" $(FLAGS)

ab: $(ENV) ## time two versions interleaved: make ab BASE=<rev|python> NEW=<rev|python> FLAGS="--gate"
	$(XBENCH) ab $(BASE) $(NEW) $(FLAGS)

study: $(ENV) ## digits trained with/without each regularizer in torch and JAX: results/study/STUDY.md, docs/study.md claims (QUICK=1: 1 seed, 60 epochs)
	$(XBENCH) study $(if $(QUICK),--quick,--readme docs/study.md) $(FLAGS)

mutate: $(ENV) ## mutation testing of the checker: mutants killed by the tests, per module (docs/mutation.md)
	$(PYTHON) tools/mutate.py $(if $(FLAGS),$(FLAGS),--sample 40)

lint: $(ENV) ## ruff lint and format check, and the architecture's import contracts
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check . && $(LINT_IMPORTS)

robustness: $(ENV) ## the long process tests: xbench interrupted (Ctrl-C, SIGTERM) or killed at seeded moments (TRIALS more per case, default 5), no process left; concurrent runs, ab, the torch-vs-JAX stage, a study twice, the wheel and a never-installed checkout end to end
	XBENCH_ROBUSTNESS_TRIALS=$(or $(TRIALS),5) $(PYTEST) -q --benchmark-disable -m long

profile: $(ENV) ## where the time goes: the check (compiling vs running, per runner, slowest runs), then the tests' slowest 15 (FLAGS go to pytest)
	$(XBENCH) check --profile; rc=$$?; $(PYTEST) -q --benchmark-disable -m "not long" --durations=15 $(FLAGS) && exit $$rc

durations: $(ENV) ## time the check (cold, warm), study --quick, make test and CI on a fresh clone: results/durations/, docs/architecture.md
	$(PYTHON) tools/durations.py --ci

fuzz: $(ENV) ## the command line and the readers fuzzed longer (XBENCH_FUZZ=long; N=examples, default 2000)
	XBENCH_FUZZ=long XBENCH_FUZZ_EXAMPLES=$(or $(N),2000) $(PYTEST) -q --benchmark-disable tests/properties/test_fuzz.py
