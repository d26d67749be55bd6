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
