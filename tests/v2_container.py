"""Runs a task of a compiled Kubeflow V2 / Vertex pipeline JSON the way its container does.

Vertex starts each step as
`python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor
--executor_class_path <class> --json_serialized_invocation_args <ExecutorInput JSON>`.
This module builds that ExecutorInput from the compiled spec (the task's input
wiring, its component's artifact types, its constant parameters), with a local
pipeline root instead of GCS, and runs the compiled command in a subprocess.
The Vertex service itself (scheduling, MLMD, GCS) is the boundary we cannot
reach here; everything inside the container runs for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


class CompiledPipeline:
    """The compiled JSON plus the runtime artifacts each finished task produced."""

    def __init__(self, path: str, root: str):
        self.spec = json.loads(open(path).read())["pipelineSpec"]
        self.root = root
        self.produced: dict[tuple[str, str], dict] = {}   # (task, output key) -> RuntimeArtifact

    def provide(self, task: str, key: str, uri: str, metadata: dict | None = None) -> None:
        """Stands in for an upstream task that is not run here (e.g. the Trainer)."""
        schema = self._definitions(task, "outputDefinitions")[key]["artifactType"]
        self.produced[(task, key)] = {"name": f"{task}-{key}", "uri": uri, "type": schema,
                                      "metadata": metadata or {}}

    def _definitions(self, task: str, which: str) -> dict:
        component = self.spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
        return self.spec["components"][component].get(which, {}).get("artifacts", {})

    def executor_input(self, task: str) -> dict:
        task_spec = self.spec["root"]["dag"]["tasks"][task]
        definitions = self._definitions(task, "inputDefinitions")
        inputs = {}
        for key, source in task_spec.get("inputs", {}).get("artifacts", {}).items():
            upstream = source["taskOutputArtifact"]
            produced = self.produced[(upstream["producerTask"], upstream["outputArtifactKey"])]
            inputs[key] = {"artifacts": [dict(produced, type=definitions[key]["artifactType"])]}
        parameters = {key: value["runtimeValue"]["constantValue"]
                      for key, value in task_spec.get("inputs", {}).get("parameters", {}).items()}
        task_root = os.path.join(self.root, task)
        outputs = {key: {"artifacts": [{"name": f"{task}-{key}", "uri": os.path.join(task_root, key),
                                        "type": definition["artifactType"], "metadata": {}}]}
                   for key, definition in self._definitions(task, "outputDefinitions").items()}
        return {"inputs": {"artifacts": inputs, "parameters": parameters},
                "outputs": {"artifacts": outputs, "outputFile": os.path.join(task_root, "executor_output.json")}}

    def command(self, task: str) -> list[str]:
        """The compiled container command with the ExecutorInput in place of `{{$}}`."""
        component = self.spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
        label = self.spec["components"][component]["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label]["container"]
        invocation = json.dumps(self.executor_input(task))
        args = [invocation if a == "{{$}}" else a for a in container["args"]]
        assert container["command"][0] == "python"
        return [sys.executable] + container["command"][1:] + args

    def run(self, task: str, cwd: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """Runs the task's container command; on success records its output artifacts."""
        proc = subprocess.run(self.command(task), cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=600)
        if proc.returncode == 0:
            output = json.loads(open(os.path.join(self.root, task, "executor_output.json")).read())
            definitions = self._definitions(task, "outputDefinitions")
            for key, listed in output.get("artifacts", {}).items():
                runtime = listed["artifacts"][0]
                self.produced[(task, key)] = {"name": runtime.get("name", f"{task}-{key}"),
                                              "uri": runtime["uri"], "metadata": runtime.get("metadata", {}),
                                              "type": definitions[key]["artifactType"]}
        return proc


class ResolverQueries:
    """The two artifact queries KubeflowV2 compiles LatestBlessedModelStrategy into, evaluated
    against a local MLMD store with Vertex's semantics: the newest LIVE artifact matching the
    filter. Locally an artifact's resource name is its id (what current_model_id holds here).
    ml-metadata's own filter_query is not built into this wheel ("ZetaSQL dependency removed"),
    so the filter grammar the compiler emits (terms joined by AND) is evaluated here."""

    def __init__(self, spec: dict):
        self.filters = {}
        for executor in spec["deploymentSpec"]["executors"].values():
            for key, query in executor.get("resolver", {}).get("outputArtifactQueries", {}).items():
                self.filters[key] = query["filter"]

    def baseline_model(self, store, max_id: int | None = None):
        """(the blessing query 1 returns, the Model query 2 returns) as of artifact id max_id."""
        blessing = self._newest(store, self.filters["model_blessing"], None, max_id)
        if blessing is None:
            return None, None
        return blessing, self._newest(store, self.filters["model"], blessing, max_id)

    def _newest(self, store, query: str, input_artifact, max_id):
        terms = [t.strip() for t in query.split(" AND ")]
        type_name = _value(next(t for t in terms if t.startswith("schema_title="))).removeprefix("tfx.")
        found = [a for a in store.get_artifacts_by_type(type_name)
                 if (max_id is None or a.id <= max_id) and all(_matches(a, t, input_artifact) for t in terms)]
        return max(found, key=lambda a: (a.create_time_since_epoch, a.id)) if found else None


def _value(term: str) -> str:
    return term.split("=", 1)[1].strip().strip('"')


def _matches(artifact, term: str, input_artifact) -> bool:
    from ml_metadata.proto import metadata_store_pb2
    field, value = term.split("=", 1)[0].strip(), _value(term)
    if field == "schema_title":
        return True
    if field == "state":
        return artifact.state == metadata_store_pb2.Artifact.State.Value(value)
    if field.startswith("metadata.") and field.endswith(".number_value"):
        prop = artifact.custom_properties.get(field.split(".")[1])
        return prop is not None and float(prop.int_value or prop.double_value) == float(value)
    if field == "name":
        key = value.split("metadata['")[1].split("'")[0]
        prop = input_artifact.custom_properties.get(key) if input_artifact is not None else None
        wanted = None if prop is None else (prop.string_value or str(prop.int_value))
        return wanted is not None and str(artifact.id) == wanted
    raise AssertionError(f"filter term {term!r} is not one the compiler emits for this resolver")
