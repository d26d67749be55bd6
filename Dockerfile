# The component image for Vertex AI Pipelines / Kubeflow Pipelines.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/tfx-edge:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/tfx-edge:TAG
#
# Debian 13 (trixie): glibc 2.41, as tfx 1.21's ml-metadata and tensorflow-data-validation
# wheels are manylinux_2_39 (glibc >= 2.39, GLIBCXX_3.4.32). Python 3.11, the minor CI tests first
# (CI also installs the same lock on 3.13 and runs the tests there; this image itself is built on 3.11).
# The package is installed (not editable) with the exact versions of requirements.lock, so
# the image runs what `make test` tested. Each pipeline step runs
# `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor ...` (compiled
# into the pipeline JSON), so no ENTRYPOINT is set.
FROM python:3.11-slim-trixie

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /opt/tfx-edge
COPY requirements.lock pyproject.toml README.md LICENSE ./
COPY tfx_edge ./tfx_edge
COPY components ./components
COPY schemas ./schemas
COPY pipelines ./pipelines

RUN python -m pip install --upgrade pip \
 && python -m pip install -c requirements.lock '.[all]' \
 && cd / && python -c "import tfx_edge.QuantizationPlan, tfx_edge.EdgeEvaluation; \
import tfx_edge.components.quantizer.executor, tfx_edge.components.tflite_exporter.executor, \
tfx_edge.components.edge_evaluator.executor, tfx_edge.pipelines.digits_model; print('tfx-edge image ok')" \
 && rm -rf /opt/tfx-edge/components /opt/tfx-edge/schemas /opt/tfx-edge/pipelines /opt/tfx-edge/tfx_edge

WORKDIR /
