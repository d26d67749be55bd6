"""The Quantizer's mode 'auto': hold out a validation subset, search, write the chosen plan.

The plan's `config` becomes the chosen candidate's concrete QuantizationConfig,
so the TFLiteExporter applies it unchanged; `auto` records the request, the
validation subset and every trial. With no candidate within the tolerance the
best one is planned and `auto.met` is False: the EdgeEvaluator then refuses to
bless, so nothing is pushed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import tensorflow as tf
from absl import logging

from tfx_edge.components import artifacts, io_utils
from tfx_edge.components.core import auto_eval, auto_search, convert, derive, examples, holdout
from tfx_edge.components.quantizer import sampling
from tfx_edge.schemas import _strict, records
from tfx_edge.schemas.quantization import QuantizationConfig


def search(config: QuantizationConfig, source: str, derived: derive.Derived, derived_dir: str,
           examples_artifact, plan_uri: str) -> dict:
    """Runs the search on the derived model (source: the Trainer's SavedModel, for QAT and the cache)."""
    start = time.monotonic()
    auto = _strict.need(config.auto, "auto")
    tensors = list(derived.inputs)
    subset, validation, record = _validation(config, tensors, examples_artifact, derived.missing_contract)
    exclude = holdout.digests(subset) if config.calibration.split == auto.validation_split else frozenset()
    cal_record, mapping, arrays, sampled = sampling.calibrate(config, derived, derived_dir, examples_artifact,
                                                              plan_uri, exclude)
    qat_state: dict = {}
    float_model = convert.convert_float(derived_dir, config.signature_key)
    evaluator = auto_eval.Evaluator(
        derived_dir, auto, arrays, float_model, validation,
        auto_eval.Cache(_cache_dir(auto, plan_uri), _context(source, cal_record, record, auto)),
        qat_dir=lambda: _fine_tune(config, source, tensors, examples_artifact, plan_uri, qat_state))
    outcome = auto_search.Search(config, evaluator, lambda: evaluator.rank_layers(config), evaluator.size).run()
    chosen = outcome.chosen
    if chosen is None:
        raise RuntimeError("mode='auto': no candidate could be converted and measured: " +
                           "; ".join(f"{t.name}: {t.error}" for t in outcome.trials))
    if chosen.config["mode"] == "qat" and "record" not in qat_state:   # its trial came from the cache
        _fine_tune(config, source, tensors, examples_artifact, plan_uri, qat_state)
    summary = _summary(config, outcome, record, len(float_model), time.monotonic() - start)
    _log(summary)
    qat = qat_state.get("record") if chosen.config["mode"] == "qat" else None
    return {"config": QuantizationConfig.from_dict(chosen.config), "input_mapping": mapping,
            "calibration": cal_record, "parity": sampling.parity_sample(config, examples_artifact, plan_uri, sampled),
            "qat": qat, "auto": summary}


def _validation(config: QuantizationConfig, tensors, examples_artifact, contract):
    auto = _strict.need(config.auto, "auto")
    files = io_utils.split_files(examples_artifact, auto.validation_split, "auto.validation_split")
    return auto_eval.validation_subset(examples.iter_records(files), tensors, config, contract)


def _cache_dir(auto, plan_uri: str) -> str:
    """auto.cache_dir, or <pipeline_root>/<Quantizer id>/auto_cache beside the plan outputs."""
    return auto.cache_dir or os.path.join(os.path.dirname(os.path.dirname(plan_uri)), "auto_cache")


def _context(source: str, cal_record: records.CalibrationRecord, validation: dict, auto) -> dict:
    """Everything besides the candidate that decides a trial's result."""
    return {"model": auto_eval.fingerprint(source), "calibration": cal_record.sha256,
            "validation": validation["sha256"], "metric": auto.metric, "label": auto.label_feature,
            "output": auto.output_name, "output_kind": auto.output_kind,
            "latency_runs": auto.latency_runs, "tf": tf.__version__}


def _fine_tune(config, source, tensors, examples_artifact, plan_uri, state: dict) -> str:
    from tfx_edge.components.quantizer import executor  # pylint: disable=g-import-not-at-top
    out = os.path.join(plan_uri, artifacts.QAT_MODEL_DIR)
    if "record" not in state:
        candidate = auto_search.candidate_config("qat", config)
        state["record"], _ = executor.fine_tune(source, candidate, tensors, examples_artifact, out)
    return out


def _summary(config: QuantizationConfig, outcome: auto_search.Outcome, validation: dict, float_bytes: int,
             seconds: float) -> records.AutoSearch:
    auto = _strict.need(config.auto, "auto")
    chosen = _strict.need(outcome.chosen, "the search's chosen candidate")
    return _strict.from_dict(records.AutoSearch, {
        "met": outcome.selected is not None,
        "selected": outcome.selected.name if outcome.selected else None,
        "best": None if outcome.selected else chosen.name,
        "planned": chosen.name,
        "metric": auto.metric,
        "tolerance": {"max_absolute_drop": auto.max_absolute_drop, "max_relative_drop": auto.max_relative_drop},
        "budgets": {"max_model_bytes": auto.max_model_bytes, "max_latency_p50_us": auto.max_latency_p50_us},
        "float_bytes": float_bytes,
        "validation": validation,
        "requested": json.loads(config.to_json()),
        "trials": [dataclasses.asdict(t) for t in outcome.trials],
        "stopped": outcome.stopped,
        "seconds": seconds,
    })


def _log(summary: records.AutoSearch) -> None:
    text = auto_search.explain(summary)
    if summary.met:
        logging.info("%s", text)
    else:
        logging.warning("%s", text)
