"""The EdgeEvaluator's HTML report, rendered from hand-built result dicts.

No TensorFlow here: html_report.py is loaded from its file, because importing
it through the `components` package would import every component (and TF).
The screenshot test needs a headless Chromium (scripts/install_chromium.sh).
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import os
import pathlib
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

MODULE_PATH = pathlib.Path(__file__).resolve().parents[1] / "components" / "edge_evaluator" / "html_report.py"
_spec = importlib.util.spec_from_file_location("tfx_edge_html_report", MODULE_PATH)
html_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(html_report)

EVIL = "<script>alert(1)</script>"
CONFUSION_QUANT = [[50, 2, 0], [1, 45, 4], [0, 3, 47]]
CONFUSION_FLOAT = [[51, 1, 0], [1, 47, 2], [0, 3, 47]]


# ---- fixtures -------------------------------------------------------------

def _class_metrics(precision: list, recall: list) -> dict:
    out = {}
    for i, (p, r) in enumerate(zip(precision, recall)):
        out[f"precision_class_{i}"] = p
        out[f"recall_class_{i}"] = r
    return out


def _slice(examples: int, quant_acc: float, float_acc: float) -> dict:
    drop = float_acc - quant_acc
    return {
        "examples": examples,
        "metrics": {
            "quantized": {"accuracy": quant_acc, "top_3_accuracy": 1.0, "loss": 0.1234,
                          "macro_precision": 0.9367, "macro_recall": 0.9333,
                          **_class_metrics([0.98, 0.9, 0.92], [0.9615, 0.9, 0.94])},
            "float_tflite": {"accuracy": float_acc, "top_3_accuracy": 1.0, "loss": 0.1111,
                             "macro_precision": 0.9533, "macro_recall": 0.9533,
                             **_class_metrics([0.98, 0.92, 0.96], [0.9808, 0.94, 0.94])},
        },
        "pairs": {"float_tflite": {"agreement": 0.98, "max_output_diff": 0.031}},
        "drops": {"float_tflite": {"accuracy": {"absolute": drop, "relative": drop / float_acc},
                                   "loss": {"absolute": 0.0123, "relative": 0.1107}}},
    }


def classification_result(blessed: bool = False) -> dict:
    return {
        "blessed": blessed,
        "task": "classification",
        "mode": "int8",
        "primary_metric": "accuracy",
        "examples": 152,
        "num_classes": 3,
        "label_format": "sparse",
        "output_name": "probabilities",
        "input_mapping": {"image": "image_feature"},
        "references": ["float_tflite"],
        "models": {
            "quantized": {"size_bytes": 162000, "path": "/x/model.tflite",
                          "ops": {"total": 12, "integer": 8, "float": 0, "hybrid": 0,
                                  "boundary": 2, "shape": 2}},
            "float_tflite": {"size_bytes": 609000, "path": "/y/model.tflite",
                             "ops": {"total": 12, "integer": 0, "float": 10, "hybrid": 0,
                                     "boundary": 0, "shape": 2}},
        },
        "slices": {"": _slice(152, 0.9276, 0.9539),
                   "digit_group=low": _slice(50, 0.88, 0.96)},
        "confusion": {"quantized": copy.deepcopy(CONFUSION_QUANT),
                      "float_tflite": copy.deepcopy(CONFUSION_FLOAT)},
        "latency": {
            "quantized": {"xnnpack": {"p50_us": 9.9, "p95_us": 12.0, "mean_us": 10.1, "min_us": 9.0,
                                      "runs": 200, "warmup": 20, "num_threads": 1},
                          "builtin": {"p50_us": 30.5, "p95_us": 35.0, "mean_us": 31.0, "min_us": 29.0,
                                      "runs": 200, "warmup": 20, "num_threads": 1}},
            "float_tflite": {"xnnpack": {"p50_us": 14.2, "p95_us": 16.0, "mean_us": 14.5, "min_us": 13.0,
                                         "runs": 200, "warmup": 20, "num_threads": 1},
                             "builtin": {"p50_us": 41.0, "p95_us": 47.5, "mean_us": 42.0, "min_us": 40.0,
                                         "runs": 200, "warmup": 20, "num_threads": 1}},
        },
        "checks": [
            {"name": "accuracy.max_absolute_drop", "slice": "", "reference": "float_tflite",
             "value": 0.0263, "limit": 0.02, "passed": False,
             "detail": "accuracy drop vs float_tflite 0.0263 > 0.02"},
            {"name": "size.max_bytes", "slice": "", "reference": None,
             "value": 162000, "limit": 1000000, "passed": True, "detail": "162000 <= 1000000"},
            {"name": "ops.no_float", "slice": "", "reference": None,
             "value": True, "limit": "required", "passed": True, "detail": "no float ops"},
        ],
        "config": {"thresholds": {"accuracy": {"max_absolute_drop": 0.02}},
                   "latency_runs": 200, "slices": ["digit_group"]},
    }


def regression_result() -> dict:
    nan = float("nan")
    return {
        "blessed": True, "task": "regression", "mode": None, "primary_metric": "rmse",
        "examples": 80, "num_classes": None, "label_format": "value", "output_name": "value",
        "input_mapping": {"x": "x"}, "references": ["float_tflite", "saved_model"],
        "models": {"quantized": {"size_bytes": 4096, "path": "/q", "ops": None},
                   "float_tflite": {"size_bytes": 9000, "path": "/f", "ops": None},
                   "saved_model": {"size_bytes": None, "path": "/s/Format-Serving", "ops": None}},
        "slices": {"": {"examples": 80,
                        "metrics": {"quantized": {"mae": 0.4321, "rmse": 0.61},
                                    "float_tflite": {"mae": 0.43, "rmse": nan},
                                    "saved_model": {"mae": 0.43, "rmse": 0.6}},
                        "pairs": {},
                        "drops": {"float_tflite": {"rmse": {"absolute": None, "relative": None}},
                                  "saved_model": {"rmse": {"absolute": 0.01, "relative": 0.0167}}}}},
        "confusion": {},
        "latency": {},
        "checks": [{"name": "rmse.max_absolute_drop", "slice": "", "reference": "float_tflite",
                    "value": None, "limit": 0.05, "passed": True, "detail": "reference rmse is NaN"}],
        "config": {"thresholds": {}},
    }


# ---- a small DOM from html.parser ------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict, parent):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children, self.text_parts = [], []

    @property
    def classes(self) -> list:
        return (self.attrs.get("class") or "").split()

    @property
    def text(self) -> str:
        return "".join(self.text_parts).strip()

    def find_all(self, tag: str, cls: str | None = None) -> list:
        found = []
        for child in self.children:
            if child.tag == tag and (cls is None or cls in child.classes):
                found.append(child)
            found += child.find_all(tag, cls)
        return found


class Document(HTMLParser):
    """Collects the declaration, every element (tag, attrs, text) and the tree."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.decls, self.elements = [], []
        self.root = Element("#root", {}, None)
        self._open = [self.root]
        self.feed(text)
        self.close()

    def handle_decl(self, decl):
        self.decls.append(decl)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self._open[-1])
        self._open[-1].children.append(element)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self._open.pop()

    def handle_endtag(self, tag):
        if tag in [e.tag for e in self._open[1:]]:
            while self._open.pop().tag != tag:
                pass

    def handle_data(self, data):
        for element in self._open:
            element.text_parts.append(data)

    def find_all(self, tag: str, cls: str | None = None) -> list:
        return self.root.find_all(tag, cls)

    def table_rows(self, table: Element) -> list:
        """[[cell text, ...], ...] of the body rows, td cells only."""
        return [[td.text for td in tr.find_all("td")] for tr in table.find_all("tr") if tr.find_all("td")]


def render(result: dict) -> tuple[str, Document]:
    text = html_report.render_html(result)
    return text, Document(text)


# ---- structure --------------------------------------------------------------------

def test_module_imports_only_the_standard_library_it_names():
    tree = ast.parse(MODULE_PATH.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "html", "json", "math"}


def test_document_is_self_contained():
    text, doc = render(classification_result())
    assert text.startswith("<!DOCTYPE html>")
    assert [d.lower() for d in doc.decls] == ["doctype html"]
    assert [t.text for t in doc.find_all("title")] == ["tfx-edge EdgeEvaluator report"]
    assert any(m.attrs.get("charset") == "utf-8" for m in doc.find_all("meta"))
    assert doc.find_all("style") and not doc.find_all("script") and not doc.find_all("link")
    assert "<script src=" not in text
    for element in doc.elements:
        for name in ("src", "href", "xlink:href"):
            value = element.attrs.get(name) or ""
            assert not value.startswith(("http://", "https://", "//")), (element.tag, value)
    assert "url(" not in text


def test_sections_come_in_order():
    text, doc = render(classification_result())
    ids = [e.attrs["id"] for e in doc.elements if e.tag in ("section", "footer") and "id" in e.attrs]
    assert ids == ["gate", "metrics", "per-class", "confusion", "performance", "slices", "inputs"]
    assert text.index('class="badge') < text.index('id="gate"')


def test_auto_search_trials_are_shown_when_present():
    result = classification_result()
    assert 'id="auto"' not in render(result)[0]
    trial = {"name": "int8", "size_bytes": 2048, "latency_p50_us": 9.5, "metric": 0.5, "reference": 0.9,
             "absolute_drop": 0.4, "seconds": 1.2, "cached": False, "passed": False,
             "reasons": ["accuracy absolute drop 0.4 > 0.01"]}
    chosen = {**trial, "name": "int8_selective(2)", "absolute_drop": 0.0, "passed": True, "reasons": []}
    result["auto"] = {"met": True, "selected": "int8_selective(2)", "best": None, "metric": "accuracy",
                      "tolerance": {"max_absolute_drop": 0.01}, "seconds": 3.0, "stopped": None,
                      "validation": {"split": "train", "examples": 296}, "trials": [trial, chosen]}
    text, doc = render(result)
    rows = doc.table_rows(doc.find_all("table", "auto")[0])
    assert 'id="auto"' in text and "int8_selective(2) <b>(selected)</b>" in text
    assert [r[0] for r in rows] == ["int8", "int8_selective(2) (selected)"]
    assert rows[0][-1] == "accuracy absolute drop 0.4 > 0.01" and "296" in text


@pytest.mark.parametrize("blessed, label", [(True, "BLESSED"), (False, "NOT BLESSED")])
def test_badge(blessed, label):
    _, doc = render(classification_result(blessed=blessed))
    badges = doc.find_all("span", "badge")
    assert [b.text for b in badges] == [label]
    assert ("blessed" if blessed else "not-blessed") in badges[0].classes


# ---- content ----------------------------------------------------------------------

def test_gate_table_lists_every_check_and_marks_the_failed_one():
    result = classification_result()
    _, doc = render(result)
    (table,) = doc.find_all("table", "gate")
    rows = [tr for tr in table.find_all("tr") if tr.find_all("td")]
    assert [tr.find_all("td")[0].text for tr in rows] == [c["name"] for c in result["checks"]]
    failed = [tr for tr in rows if "failed" in tr.classes]
    assert len(failed) == 1 and "FAILED" in failed[0].text
    assert "accuracy.max_absolute_drop" in failed[0].text and "0.0263" in failed[0].text
    assert all("FAILED" not in tr.text for tr in rows if tr is not failed[0])


def test_metrics_table_shows_values_and_drops():
    _, doc = render(classification_result())
    (table,) = doc.find_all("table", "metrics")
    rows = {cells[0]: cells[1:] for cells in doc.table_rows(table)}
    assert rows["accuracy"][:2] == ["0.9276", "0.9539"]
    assert rows["accuracy"][2:] == ["0.0263", "2.76%"]
    assert rows["top_3_accuracy"] == ["1", "1", "", ""]      # no drop recorded for it
    assert not any(name.startswith(("precision_class_", "recall_class_")) for name in rows)
    (per_class,) = doc.find_all("table", "per-class")
    assert doc.table_rows(per_class)[1] == ["1", "0.9", "0.9", "0.92", "0.94", "0.04"]


def test_confusion_tables_hold_the_counts_and_mark_new_errors():
    _, doc = render(classification_result())
    tables = {t.attrs["data-model"]: t for t in doc.find_all("table", "confusion")}
    assert set(tables) == {"quantized", "float_tflite"}
    for name, expected in (("quantized", CONFUSION_QUANT), ("float_tflite", CONFUSION_FLOAT)):
        assert [[int(c) for c in row] for row in doc.table_rows(tables[name])] == expected
    worse = [(i, j) for i, tr in enumerate(r for r in tables["quantized"].find_all("tr") if r.find_all("td"))
             for j, td in enumerate(tr.find_all("td")) if "worse" in td.classes]
    assert worse == [(0, 1), (1, 2)]
    assert not [td for td in tables["float_tflite"].find_all("td") if "worse" in td.classes]


def test_slices_table_has_every_slice():
    _, doc = render(classification_result())
    (table,) = doc.find_all("table", "slices")
    rows = doc.table_rows(table)
    assert [r[0] for r in rows] == ["(overall)", "digit_group=low"]
    assert rows[1][:5] == ["digit_group=low", "50", "0.88", "0.96", "0.08"]


def test_single_slice_has_no_slices_table():
    result = classification_result()
    del result["slices"]["digit_group=low"]
    _, doc = render(result)
    assert not doc.find_all("table", "slices")


def test_user_strings_are_escaped():
    result = classification_result()
    result["slices"][EVIL] = result["slices"].pop("digit_group=low")
    result["output_name"] = EVIL
    result["checks"][0]["detail"] = EVIL
    result["input_mapping"] = {EVIL: EVIL}
    result["config"]["note"] = EVIL
    text, doc = render(result)
    assert not doc.find_all("script")
    assert EVIL not in text
    assert text.count(html_report.html.escape(EVIL)) >= 5
    (slices,) = doc.find_all("table", "slices")
    assert EVIL in [r[0] for r in doc.table_rows(slices)]   # readable once parsed


def test_regression_report_has_no_classification_sections_and_shows_na():
    text, doc = render(regression_result())
    assert not doc.find_all("table", "confusion") and not doc.find_all("table", "per-class")
    assert 'id="per-class"' not in text and 'id="confusion"' not in text
    (metrics,) = doc.find_all("table", "metrics")
    rows = {cells[0]: cells[1:] for cells in doc.table_rows(metrics)}
    assert rows["mae"][:3] == ["0.4321", "0.43", "0.43"]
    assert rows["rmse"] == ["0.61", "n/a", "0.6", "n/a", "n/a", "0.01", "1.67%"]
    (gate,) = doc.find_all("table", "gate")
    assert doc.table_rows(gate)[0][3] == "n/a"
    (models,) = doc.find_all("table", "models")
    assert doc.table_rows(models)[2][:2] == ["saved_model", "n/a"]
    assert "Latency was not measured." in text


# ---- latency ----------------------------------------------------------------------

@pytest.mark.parametrize("quant_builtin_p50, slower", [(30.5, False), (41.0, False), (55.0, True)])
def test_slower_than_float_marker(quant_builtin_p50, slower):
    result = classification_result()
    result["latency"]["quantized"]["builtin"]["p50_us"] = quant_builtin_p50
    text, doc = render(result)
    kernels = {h.text.split()[0]: h for h in doc.find_all("h3", "kernel")}
    assert set(kernels) == {"xnnpack", "builtin"}
    assert ("slower than float" in kernels["builtin"].text) is slower
    assert "slower than float" not in kernels["xnnpack"].text
    assert ("slower than float" in text) is slower


def test_bars_are_inline_svg():
    _, doc = render(classification_result())
    charts = doc.find_all("svg", "bars")
    assert len(charts) == 3                                   # size, xnnpack, builtin
    assert any("158.2 KiB" in t.text for t in charts[0].find_all("text"))
    assert len(charts[1].find_all("rect")) == 4               # p50 and p95 for 2 models


# ---- screenshot -------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> None:
    """Undo one scanline's PNG filter in place (filter types 0-4, PNG spec section 9)."""
    if kind == 0:
        return
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((a + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(a, prev[i], c)) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {kind}")


def decode_png(data: bytes) -> tuple[int, int, int, list]:
    """A non-interlaced 8-bit RGB or RGBA PNG as (width, height, channels, rows of bytes).

    Standard library only: walks the chunks (length, type, body, CRC), reads IHDR,
    inflates the joined IDAT bodies with zlib and unfilters each scanline.
    """
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * channels
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(raw[start], line, prev, channels)
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def _pixels(rows: list, channels: int):
    for row in rows:
        for x in range(0, len(row), channels):
            yield row[x], row[x + 1], row[x + 2]


def _hex_rgb(colour: str) -> tuple:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _near(pixel, target, tolerance: int = 12) -> bool:
    return all(abs(p - t) <= tolerance for p, t in zip(pixel, target))


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
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return png.read_bytes()


def test_screenshot_is_not_blank(tmp_path):
    binary = _chromium()
    width, height, channels, rows = decode_png(screenshot(
        html_report.render_html(classification_result(blessed=False)), tmp_path, binary))
    assert (width, height) == (1200, 1600)
    badge = _hex_rgb(html_report.NOT_BLESSED_COLOUR)
    non_white = badge_pixels = 0
    colours = set()
    for y, row in enumerate(rows):
        for pixel in _pixels([row], channels):
            if min(pixel) < 240:
                non_white += 1
                colours.add(pixel)
            badge_pixels += y < 120 and _near(pixel, badge)   # the badge sits in the header
    assert non_white > 5000
    assert len(colours) >= 3
    assert badge_pixels > 1000, "the red NOT BLESSED badge is not visible at the top"
