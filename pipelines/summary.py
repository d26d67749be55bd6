"""What the latest pipeline run did, read back from ML Metadata (SQLite)."""

from __future__ import annotations

import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from tfx_edge.components import artifacts
from tfx_edge.pipelines import evaluation_text
from tfx_edge.schemas import records

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
FINISHED_STATES = frozenset({"COMPLETE", "CACHED", "FAILED", "CANCELED"})


def state_name(execution) -> str:
    return _STATES[execution.last_known_state]


def store_for(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def latest_run_executions(store, run_id: str | None = None) -> dict[str, metadata_store_pb2.Execution]:
    """{component id: execution} for the run `run_id` (default: the newest pipeline run)."""
    if run_id is not None:
        run = store.get_context_by_type_and_name("pipeline_run", run_id)
    else:
        runs = store.get_contexts_by_type("pipeline_run")
        run = max(runs, key=lambda c: c.id) if runs else None
    if run is None:
        return {}
    by_node = {}
    for execution in store.get_executions_by_context(run.id):
        for context in store.get_contexts_by_execution(execution.id):
            if context.type == "node":
                by_node[context.name.split(".", 1)[-1]] = execution
    return by_node


def latest_run(store, run_id: str | None = None) -> dict[str, str]:
    """{component id: execution state} for the run (COMPLETE, CACHED, ...)."""
    return {node: state_name(e) for node, e in latest_run_executions(store, run_id).items()}


def _latest_artifact(store, type_name: str, run_id: str | None = None):
    """The newest artifact of a type, or with run_id the one that run's executions output."""
    if run_id is None:
        found = store.get_artifacts_by_type(type_name)
    else:
        ids = [e.id for e in latest_run_executions(store, run_id).values()]
        outputs = {ev.artifact_id for ev in store.get_events_by_execution_ids(ids)
                   if ev.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)}
        found = [a for a in store.get_artifacts_by_id(sorted(outputs)) if a.type == type_name]
    return max(found, key=lambda a: a.id) if found else None


def latest_evaluation(store, run_id: str | None = None) -> records.EvaluationResult | None:
    evaluation = _latest_artifact(store, artifacts.EdgeEvaluation.TYPE_NAME, run_id)
    if evaluation is None:
        return None
    return evaluation_text.read_evaluation(os.path.join(evaluation.uri, artifacts.METRICS_FILE))


def latest_report_path(store, run_id: str | None = None) -> str | None:
    evaluation = _latest_artifact(store, artifacts.EdgeEvaluation.TYPE_NAME, run_id)
    return None if evaluation is None else os.path.join(evaluation.uri, artifacts.HTML_REPORT_FILE)


def latest_push(store, run_id: str | None = None) -> dict | None:
    pushed = _latest_artifact(store, "PushedModel", run_id)
    if pushed is None:
        return None
    props = pushed.custom_properties
    return {"pushed": props["pushed"].int_value == 1 if "pushed" in props else False,
            "destination": props["pushed_destination"].string_value
            if "pushed_destination" in props else None}


render = evaluation_text.render   # the summary's text, from what the functions above read
