"""The EdgeEvaluator's HTML report, rendered from hand-built results (typed by the strict reader).

No TensorFlow here: html_report imports only jinja2, the standard library and
tfx_edge.schemas. Pages are parsed with lxml.html; the screenshot test needs a
headless Chromium (scripts/install_chromium.sh) and reads its PNG with Pillow.
"""

from __future__ import annotations

import ast
import html
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import lxml.etree
import lxml.html
import pytest
from PIL import Image

from tfx_edge.components.edge_evaluator import (html_report, report_cells, report_charts, report_curves, report_diagnosis,
                                                report_view)
from tfx_edge.schemas import records
from result_fixtures import (AUTO_CONFIG, CONFUSION_FLOAT, CONFUSION_QUANT, EVIL, classification_result,
                             regression_result)


# ---- the parsed page (lxml.html) ------------------------------------------------

def find_all(root, tag: str, cls: str | None = None) -> list:
    """Descendants of root with this tag (and class), in document order."""
    return [e for e in root.iterdescendants(tag) if cls is None or cls in e.classes]


def content(element) -> str:
    """The element's text, descendants included, stripped."""
    return element.text_content().strip()


def elements(doc) -> list:
    return list(doc.iter(lxml.etree.Element))


def table_rows(table) -> list:
    """[[cell text, ...], ...] of the body rows, td cells only."""
    return [[content(td) for td in find_all(tr, "td")] for tr in find_all(table, "tr") if find_all(tr, "td")]


def typed(result: dict) -> records.EvaluationResult:
    """The hand-built result through the strict reader, as the report gets it."""
    return records.EvaluationResult.from_dict(result, "a test's result", "fix the test fixture")


def render(result: dict) -> tuple:
    page = html_report.render_html(typed(result))
    return page, lxml.html.document_fromstring(page)


# ---- structure --------------------------------------------------------------------

ALLOWED_IMPORTS = {
    html_report: {"__future__", "functools", "jinja2", "tfx_edge.components.edge_evaluator",
                  "tfx_edge.schemas.records"},
    report_diagnosis: {"__future__", "tfx_edge.components.edge_evaluator.report_cells", "tfx_edge.schemas.names",
                       "tfx_edge.schemas.records"},
    report_view: {"__future__", "dataclasses", "json", "tfx_edge.components.edge_evaluator",
                  "tfx_edge.components.edge_evaluator.report_cells", "tfx_edge.components.edge_evaluator.report_charts",
                  "tfx_edge.schemas.names", "tfx_edge.schemas.records"},
    report_curves: {"__future__", "dataclasses", "tfx_edge.schemas.names", "tfx_edge.schemas.records"},
    report_charts: {"__future__", "dataclasses", "typing", "tfx_edge.components.edge_evaluator.report_cells",
                    "tfx_edge.schemas.names", "tfx_edge.schemas.records"},
    report_cells: {"__future__", "dataclasses", "json", "math", "typing", "tfx_edge.schemas.names",
                   "tfx_edge.schemas.records"},
}


@pytest.mark.parametrize("module", ALLOWED_IMPORTS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_module_imports_only_jinja2_the_standard_library_and_names(module):
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= ALLOWED_IMPORTS[module]


def test_module_loads_no_tensorflow_tfx_or_beam(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(classification_result()))
    code = ("import sys; from tfx_edge.components.edge_evaluator import html_report; "
            "from tfx_edge.schemas import records; "
            "html_report.render_html(records.EvaluationResult.from_json(open('metrics.json').read(), 'm', 'f')); "
            "print(sorted(m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_document_is_self_contained():
    text, doc = render(classification_result())
    assert text.startswith("<!DOCTYPE html>")
    assert doc.getroottree().docinfo.doctype.lower() == "<!doctype html>"
    assert [content(t) for t in find_all(doc, "title")] == ["tfx-edge EdgeEvaluator report"]
    assert any(m.get("charset") == "utf-8" for m in find_all(doc, "meta"))
    assert find_all(doc, "style") and not find_all(doc, "script") and not find_all(doc, "link")
    assert "<script src=" not in text
    for element in elements(doc):
        for name in ("src", "href", "xlink:href"):
            value = element.get(name) or ""
            assert not value.startswith(("http://", "https://", "//")), (element.tag, value)
    assert "url(" not in text


def test_sections_come_in_order():
    text, doc = render(classification_result())
    ids = [e.get("id") for e in doc.iter("section", "footer") if e.get("id") is not None]
    assert ids == ["gate", "metrics", "per-class", "confusion", "performance", "slices", "inputs"]
    assert text.index('class="badge') < text.index('id="gate"')


def test_auto_search_trials_are_shown_when_present():
    result = classification_result()
    assert 'id="auto"' not in render(result)[0]
    trial = {"name": "int8", "config": {"mode": "int8"}, "size_bytes": 2048, "latency_p50_us": 9.5, "metric": 0.5,
             "reference": 0.9, "absolute_drop": 0.4, "seconds": 1.2, "cached": False, "passed": False,
             "reasons": ["accuracy absolute drop 0.4 > 0.01"]}
    chosen = {**trial, "name": "int8_selective(2)", "absolute_drop": 0.0, "passed": True, "reasons": []}
    result["auto"] = {"met": True, "selected": "int8_selective(2)", "best": None, "planned": "int8_selective(2)",
                      "metric": "accuracy", "tolerance": {"max_absolute_drop": 0.01, "max_relative_drop": None},
                      "budgets": {"max_model_bytes": None, "max_latency_p50_us": None}, "float_bytes": 8192,
                      "seconds": 3.0, "stopped": None, "requested": AUTO_CONFIG,
                      "validation": {"split": "train", "examples": 296, "examples_seen": 1437, "fraction": 0.2,
                                     "seed": 0, "sha256": "v" * 64}, "trials": [trial, chosen]}
    text, doc = render(result)
    rows = table_rows(find_all(doc, "table", "auto")[0])
    assert 'id="auto"' in text and "int8_selective(2) <b>(selected)</b>" in text
    assert [r[0] for r in rows] == ["int8", "int8_selective(2) (selected)"]
    assert rows[0][-1] == "accuracy absolute drop 0.4 > 0.01" and "296" in text


@pytest.mark.parametrize("blessed, label", [(True, "BLESSED"), (False, "NOT BLESSED")])
def test_badge(blessed, label):
    _, doc = render(classification_result(blessed=blessed))
    badges = find_all(doc, "span", "badge")
    assert [content(b) for b in badges] == [label]
    assert ("blessed" if blessed else "not-blessed") in badges[0].classes


# ---- content ----------------------------------------------------------------------

def test_gate_table_lists_every_check_and_marks_the_failed_one():
    result = classification_result()
    _, doc = render(result)
    (table,) = find_all(doc, "table", "gate")
    rows = [tr for tr in find_all(table, "tr") if find_all(tr, "td")]
    assert [content(find_all(tr, "td")[0]) for tr in rows] == [c["name"] for c in result["checks"]]
    failed = [tr for tr in rows if "failed" in tr.classes]
    assert len(failed) == 1 and "FAILED" in content(failed[0])
    assert "accuracy.max_absolute_drop" in content(failed[0]) and "0.0263" in content(failed[0])
    assert all("FAILED" not in content(tr) for tr in rows if tr is not failed[0])


def test_metrics_table_shows_values_and_drops():
    _, doc = render(classification_result())
    (table,) = find_all(doc, "table", "metrics")
    rows = {cells[0]: cells[1:] for cells in table_rows(table)}
    assert rows["accuracy"][:2] == ["0.9276", "0.9539"]
    assert rows["accuracy"][2:] == ["0.0263", "2.76%"]
    assert rows["top_3_accuracy"] == ["1", "1", "", ""]      # no drop recorded for it
    assert not any(name.startswith(("precision_class_", "recall_class_")) for name in rows)
    (per_class,) = find_all(doc, "table", "per-class")
    assert table_rows(per_class)[1] == ["1", "0.9", "0.9", "0.92", "0.94", "0.04"]


def test_confusion_tables_hold_the_counts_and_mark_new_errors():
    _, doc = render(classification_result())
    tables = {t.get("data-model"): t for t in find_all(doc, "table", "confusion")}
    assert set(tables) == {"quantized", "float_tflite"}
    for name, expected in (("quantized", CONFUSION_QUANT), ("float_tflite", CONFUSION_FLOAT)):
        assert [[int(c) for c in row] for row in table_rows(tables[name])] == expected
    body_rows = [tr for tr in find_all(tables["quantized"], "tr") if find_all(tr, "td")]
    worse = [(i, j) for i, tr in enumerate(body_rows)
             for j, td in enumerate(find_all(tr, "td")) if "worse" in td.classes]
    assert worse == [(0, 1), (1, 2)]
    assert not [td for td in find_all(tables["float_tflite"], "td") if "worse" in td.classes]


def test_slices_table_has_every_slice():
    _, doc = render(classification_result())
    (table,) = find_all(doc, "table", "slices")
    rows = table_rows(table)
    assert [r[0] for r in rows] == ["(overall)", "digit_group=low"]
    assert rows[1][:5] == ["digit_group=low", "50", "0.88", "0.96", "0.08"]


def test_a_crossed_slice_is_a_row_named_by_its_features_in_the_cross_order():
    from result_fixtures import _slice
    result = classification_result()
    result["slices"]["digit_group=low & writer=b"] = _slice(20, 0.8, 0.95, (("digit_group", "low"), ("writer", "b")))
    _, doc = render(result)
    (table,) = find_all(doc, "table", "slices")
    rows = table_rows(table)
    assert [r[0] for r in rows] == ["(overall)", "digit_group=low & writer=b", "digit_group=low"]   # worst first
    assert rows[1][:5] == ["digit_group=low & writer=b", "20", "0.8", "0.95", "0.15"]


def test_single_slice_has_no_slices_table():
    result = classification_result()
    del result["slices"]["digit_group=low"]
    _, doc = render(result)
    assert not find_all(doc, "table", "slices")


def test_user_strings_are_escaped():
    result = classification_result()
    result["slices"][EVIL] = result["slices"].pop("digit_group=low")
    result["output_name"] = EVIL
    result["checks"][0]["detail"] = EVIL
    result["input_mapping"] = {EVIL: EVIL}
    result["config"]["label_feature"] = EVIL
    text, doc = render(result)
    assert not find_all(doc, "script")
    assert EVIL not in text
    assert text.count(html.escape(EVIL)) >= 5
    (slices,) = find_all(doc, "table", "slices")
    assert EVIL in [r[0] for r in table_rows(slices)]   # readable once parsed


def test_regression_report_has_no_classification_sections_and_shows_na():
    text, doc = render(regression_result())
    assert not find_all(doc, "table", "confusion") and not find_all(doc, "table", "per-class")
    assert 'id="per-class"' not in text and 'id="confusion"' not in text
    (metrics,) = find_all(doc, "table", "metrics")
    rows = {cells[0]: cells[1:] for cells in table_rows(metrics)}
    assert rows["mae"][:3] == ["0.4321", "0.43", "0.43"]
    assert rows["rmse"] == ["0.61", "n/a", "0.6", "n/a", "n/a", "0.01", "1.67%"]
    (gate,) = find_all(doc, "table", "gate")
    assert table_rows(gate)[0][3] == "n/a"
    (models,) = find_all(doc, "table", "models")
    assert table_rows(models)[2][:2] == ["saved_model", "n/a"]
    assert "Latency was not measured." in text


# ---- latency ----------------------------------------------------------------------

@pytest.mark.parametrize("quant_builtin_p50, slower", [(30.5, False), (41.0, False), (55.0, True)])
def test_slower_than_float_marker(quant_builtin_p50, slower):
    result = classification_result()
    result["latency"]["quantized"]["builtin"]["p50_us"] = quant_builtin_p50
    text, doc = render(result)
    kernels = {content(h).split()[0]: h for h in find_all(doc, "h3", "kernel")}
    assert set(kernels) == {"xnnpack", "builtin"}
    assert ("slower than float" in content(kernels["builtin"])) is slower
    assert "slower than float" not in content(kernels["xnnpack"])
    assert ("slower than float" in text) is slower


def test_bars_are_inline_svg():
    _, doc = render(classification_result())
    charts = find_all(doc, "svg", "bars")
    assert len(charts) == 3                                   # size, xnnpack, builtin
    assert any("158.2 KiB" in content(t) for t in find_all(charts[0], "text"))
    assert len(find_all(charts[1], "rect")) == 4              # p50 and p95 for 2 models


# ---- screenshot -------------------------------------------------------------------

def _hex_rgb(colour: str) -> tuple:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _near(pixel, target, tolerance: int = 12) -> bool:
    return all(abs(p - t) <= tolerance for p, t in zip(pixel, target))


def _colour_counts(image: Image.Image) -> list:
    """[(count, (r, g, b)), ...] over every pixel of an RGB image."""
    return image.getcolors(maxcolors=image.width * image.height)


def _chromium() -> str:
    for name in ("chromium-headless-shell", "chromium"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("no chromium-headless-shell or chromium on PATH; CI must run scripts/install_chromium.sh")
    pytest.skip("no headless Chromium on PATH: run scripts/install_chromium.sh (as root) to enable")


def screenshot(html_text: str, directory: pathlib.Path, binary: str) -> bytes:
    page, png = directory / "report.html", directory / "report.png"
    page.write_text(html_text, encoding="utf-8")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={directory / 'profile'}", f"--screenshot={png}",
               "--window-size=1200,1600", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return png.read_bytes()


def test_screenshot_is_not_blank(tmp_path):
    binary = _chromium()
    png = screenshot(html_report.render_html(typed(classification_result(blessed=False))), tmp_path, binary)
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.format == "PNG"
        image = decoded.convert("RGB")
    assert image.size == (1200, 1600)
    badge = _hex_rgb(html_report.NOT_BLESSED_COLOUR)
    inked = [(count, pixel) for count, pixel in _colour_counts(image) if min(pixel) < 240]
    non_white = sum(count for count, _ in inked)
    colours = {pixel for _, pixel in inked}
    header = image.crop((0, 0, image.width, 120))              # the badge sits in the header
    badge_pixels = sum(count for count, pixel in _colour_counts(header) if _near(pixel, badge))
    assert non_white > 5000
    assert len(colours) >= 3
    assert badge_pixels > 1000, "the red NOT BLESSED badge is not visible at the top"


def test_outputs_the_thresholds_do_not_read_get_their_own_table():
    result = classification_result()
    result["other_outputs"] = {"value": {"float_tflite": {"examples": 152, "nonfinite": 0, "agreement": None,
                                                          "relative_rms_difference": 5.5, "max_abs_difference": 3.25}}}
    text, doc = render(result)
    (table,) = find_all(doc, "table", "other-outputs")
    assert table_rows(table) == [["value", "float_tflite", "152", "n/a", "5.5", "3.25"]]
    assert 'id="other-outputs"' in text and 'id="other-outputs"' not in render(classification_result())[0]


def test_slices_table_shows_every_gated_metric_worst_slice_first():
    from result_fixtures import _slice
    result = classification_result()
    result["config"]["thresholds"]["metrics"]["loss"] = {"max_absolute_drop": 0.5}
    result["config"]["output_kind"] = "logits"
    result["slices"]["digit_group=high"] = _slice(50, 0.70, 0.96, (("digit_group", "high"),))   # drop 0.26: worse
    _, doc = render(result)
    (table,) = find_all(doc, "table", "slices")
    headers = [content(th) for th in find_all(table, "th")]
    assert headers[2:] == ["accuracy quantized", "accuracy float_tflite", "accuracy drop",
                           "loss quantized", "loss float_tflite", "loss drop"]
    assert [r[0] for r in table_rows(table)] == ["(overall)", "digit_group=high", "digit_group=low"]


def test_a_binary_output_gets_roc_pr_and_calibration_curves_of_both_models():
    result = classification_result()
    curves = {"roc": [[0, 0], [0.1, 0.8], [1, 1]], "pr": [[0.2, 1.0], [1.0, 0.3]],
              "calibration": [[0.05, 0.04, 300.0], [0.8, 0.75, 60.0]]}
    result["curves"] = {"quantized": curves, "float_tflite": curves}
    text, doc = render(result)
    svgs = find_all(find_all(doc, "section")[[s.get("id") for s in find_all(doc, "section")].index("curves")], "svg")
    assert [s.get("aria-label") for s in svgs] == ["ROC", "Precision-recall", "Calibration"]
    assert len(find_all(svgs[0], "polyline")) == 3 and len(find_all(svgs[1], "polyline")) == 2
    assert 'id="curves"' not in render(classification_result())[0]


def test_what_quantization_changed_lists_the_moved_cells_largest_first():
    _, doc = render(classification_result())
    (table,) = find_all(doc, "table", "changes")
    rows = table_rows(table)
    # CONFUSION_QUANT - CONFUSION_FLOAT: (1,1) -2, (1,2) +2, (0,0) -1, (0,1) +1
    assert [r[:2] + r[-1:] for r in rows] == [["1", "1", "-2"], ["1", "2", "+2"], ["0", "0", "-1"], ["0", "1", "+1"]]
    assert [r[2] for r in rows] == ["right", "wrong", "right", "wrong"]


def test_run_identity_and_the_worst_layers_are_shown():
    result = classification_result()
    result["identity"] = {"tfx_edge_version": "9.9", "evaluated_at": "2026-12-01T15:00:00+00:00",
                          "pipeline_run_id": "run-42", "model_uri": "/root/TFLiteExporter/tflite_model/7",
                          "float_model_uri": "/root/TFLiteExporter/float_model/7", "examples_uri": "/root/Gen/1"}
    result["worst_layers"] = [{"tensor": "conv/Relu", "op": "CONV_2D", "trimmed_nsr": 0.25},
                              {"tensor": "dense", "op": "FULLY_CONNECTED", "trimmed_nsr": None}]
    text, doc = render(result)
    facts = {content(li).split(":", 1)[0]: content(li).split(":", 1)[1].strip() for li in find_all(doc, "li")}
    assert facts["evaluated"] == "2026-12-01T15:00:00+00:00 by tfx-edge 9.9" and facts["run"] == "run-42"
    assert facts["quantized sha256"] == result["provenance"]["quantized_sha256"]
    (layers,) = find_all(doc, "table", "layers")
    assert table_rows(layers)[0][:2] == ["conv/Relu", "CONV_2D"]
    ids = [e.get("id") for e in doc.iter("section") if e.get("id") is not None]
    assert ids.index("layers") == ids.index("confusion") + 1
