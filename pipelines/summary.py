"""What the latest pipeline run did, read back from ML Metadata (SQLite)."""

from __future__ import annotations

import json
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import artifacts

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


def store_for(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def latest_run_executions(store) -> dict[str, metadata_store_pb2.Execution]:
    """{component id: execution} for the newest pipeline run."""
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return {}
    run = max(runs, key=lambda c: c.id)
    by_node = {}
    for execution in store.get_executions_by_context(run.id):
        for context in store.get_contexts_by_execution(execution.id):
            if context.type == "node":
                by_node[context.name.split(".", 1)[-1]] = execution
    return by_node


def latest_run(store) -> dict[str, str]:
    """{component id: execution state} for the newest pipeline run (COMPLETE, CACHED, ...)."""
    return {node: _STATES[e.last_known_state] for node, e in latest_run_executions(store).items()}


def _latest_artifact(store, type_name: str):
    found = store.get_artifacts_by_type(type_name)
    return max(found, key=lambda a: a.id) if found else None


def latest_evaluation(store) -> dict | None:
    evaluation = _latest_artifact(store, "tfxedge.EdgeEvaluation")
    if evaluation is None:
        return None
    with open(os.path.join(evaluation.uri, artifacts.METRICS_FILE)) as f:
        return json.load(f)


def latest_push(store) -> dict | None:
    pushed = _latest_artifact(store, "PushedModel")
    if pushed is None:
        return None
    props = pushed.custom_properties
    return {"pushed": props["pushed"].int_value == 1 if "pushed" in props else False,
            "destination": props["pushed_destination"].string_value
            if "pushed_destination" in props else None}


def render(states: dict[str, str], evaluation: dict | None, push: dict | None) -> str:
    lines = ["", "=== tfx-edge demo summary ==="]
    if states:
        lines.append("components: " + ", ".join(f"{k}={v}" for k, v in sorted(states.items())))
    if evaluation:
        s, z = evaluation["summary"], evaluation["sizes"]
        mode = evaluation.get("mode", "")
        lines += [
            f"accuracy: float32 {100 * s['accuracy_float']:.2f}%  quantized {100 * s['accuracy_quant']:.2f}%"
            f"  drop {100 * s['absolute_drop']:.2f} points ({s['examples']} eval examples)",
            f"size: float32 {z['float_bytes'] / 1024:.0f} KiB  quantized {z['quant_bytes'] / 1024:.0f} KiB"
            f"  ratio {z['ratio']:.3f} {mode}",
        ]
        lat = evaluation.get("latency", {})
        if lat:
            lines.append("latency (batch 1, 1 thread, XNNPACK, median): float32 "
                         f"{lat['float_xnnpack']['median_us']:.1f} us  quantized "
                         f"{lat['quant_xnnpack']['median_us']:.1f} us")
        lines.append(f"gate: {'BLESSED' if evaluation['blessed'] else 'NOT BLESSED'}")
        lines += [f"  [{'ok' if c['passed'] else 'FAIL'}] {c['detail']}" for c in evaluation["checks"]]
    if push:
        lines.append(f"pushed: {push['destination']}" if push["pushed"] else "pushed: nothing (not blessed)")
    return "\n".join(lines)
