# tfx-edge: `make demo` runs the pipeline, `make test` the tests; each sets itself up.
# PYTHON_MINOR and VENV choose the interpreter and its environment (scripts/setup.sh):
# `make test` is Python 3.11 in .venv; CI also runs `make test PYTHON_MINOR=3.13 VENV=.venv-3.13`.
export PYTHON_MINOR ?= 3.11
export VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo demo-beam test check bench vertex image clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m tfx_edge.pipelines.run_local $(ARGS)

demo-beam: setup
	$(PY) -m tfx_edge.pipelines.run_local --runner beam $(ARGS)

vertex: setup
	$(PY) -m tfx_edge.pipelines.compile_vertex $(ARGS)

# Needs a container engine (not available on the development machines): IMAGE=registry/tfx-edge:tag
image:
	docker build -t $(IMAGE) .

test: check
	bash scripts/install_chromium.sh
	$(PY) -m pytest -q $(ARGS)

# ruff, then mypy (pyproject.toml). mypy cannot follow the package-dir mapping: it checks tfx_edge
# through build/typecheck/tfx_edge/, symlinks that scripts/setup.sh makes; messages get real paths.
CHECKED := components schemas pipelines tfx_edge bench
check: setup
	$(PY) -m ruff check --output-format concise $(CHECKED); ruff=$$?; \
	$(PY) -m mypy -p tfx_edge -p bench > build/typecheck/mypy.txt; mypy=$$?; \
	sed -E 's#^build/typecheck/tfx_edge/(components|schemas|pipelines)/#\1/#; s#^build/typecheck/##' \
	  build/typecheck/mypy.txt; exit $$((ruff | mypy))

# Every bench/*_bench.py; ARGS go to each (ARGS=--quick: all of them in a few minutes, JSON in temp dirs).
bench: setup
	status=0; for b in bench/*_bench.py; do \
	  echo "== $$b"; $(PY) -m bench.$$(basename $$b .py) $(ARGS) || status=1; \
	done; exit $$status

clean:
	rm -rf work serving_model bench/results/*.json
