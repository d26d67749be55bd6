# tfx-edge: `make demo` runs the pipeline, `make test` the tests; each sets itself up.
PY := .venv/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo demo-beam test bench vertex image clean

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

test: setup
	bash scripts/install_chromium.sh
	$(PY) -m pytest -q $(ARGS)

bench: setup
	$(PY) -m bench.pipeline_bench $(ARGS)
	$(PY) -m bench.techniques_bench $(ARGS)
	$(PY) -m bench.evaluator_bench
	$(PY) -m bench.auto_bench
	$(PY) -m bench.derive_bench

clean:
	rm -rf work serving_model bench/results/*.json
