"""The EdgeEvaluator's result dict as one self-contained HTML page.

Standard library only: no TensorFlow, no JavaScript, no external assets.
Every string taken from the result is escaped.
"""

from __future__ import annotations

import html
import json
import math

TITLE = "tfx-edge EdgeEvaluator report"
OVERALL = ""
QUANTIZED = "quantized"
FLOAT_REFERENCE = "float_tflite"
BLESSED_COLOUR = "#15803d"
NOT_BLESSED_COLOUR = "#b91c1c"
NA = '<span class="na">n/a</span>'
SLOWER = "slower than float"

_STYLE = f"""
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0; background: #f3f4f6; color: #1f2937; line-height: 1.4; }}
.container {{ max-width: 1100px; margin: 0 auto; padding: 24px 32px; background: #fff; }}
h1 {{ font-size: 1.6em; margin: 0 0 .3em; }}
h2 {{ font-size: 1.2em; margin: 1.6em 0 .5em; padding-bottom: .2em; border-bottom: 1px solid #e5e7eb; }}
h3 {{ font-size: 1em; margin: 1em 0 .3em; }}
table {{ border-collapse: collapse; margin: .4em 0 1em; font-size: .9em; }}
th, td {{ border: 1px solid #d1d5db; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f9fafb; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.failed td {{ background: #fee2e2; }}
tr.primary td {{ font-weight: 600; }}
.badge {{ display: inline-block; padding: 3px 12px; border-radius: 4px; color: #fff;
          font-weight: 700; letter-spacing: .04em; vertical-align: middle; font-size: .8em; }}
.badge.blessed {{ background: {BLESSED_COLOUR}; }}
.badge.not-blessed {{ background: {NOT_BLESSED_COLOUR}; }}
.pass {{ color: {BLESSED_COLOUR}; font-weight: 600; }}
.fail {{ color: {NOT_BLESSED_COLOUR}; font-weight: 700; }}
.worse {{ color: {NOT_BLESSED_COLOUR}; }}
.better {{ color: {BLESSED_COLOUR}; }}
.na {{ color: #9ca3af; }}
.facts {{ list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 4px 24px; }}
.note {{ color: #4b5563; font-size: .85em; }}
.slower {{ color: #fff; background: #dc2626; border-radius: 3px; padding: 1px 6px; font-size: .8em; }}
table.confusion td {{ text-align: center; min-width: 2.4em; font-variant-numeric: tabular-nums; }}
table.confusion td.worse {{ outline: 2px solid #dc2626; outline-offset: -2px; color: inherit; }}
.matrices {{ display: flex; flex-wrap: wrap; gap: 8px 32px; }}
svg.bars text {{ font-size: 12px; fill: #1f2937; }}
pre {{ background: #f9fafb; border: 1px solid #e5e7eb; padding: 12px; overflow: auto; font-size: .85em; }}
"""


# ---- values -------------------------------------------------------------

def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not _missing(value)


def _text(value) -> str:
    """A value as plain text: numbers to 4 significant digits, "n/a" when missing."""
    if _missing(value):
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        value += 0.0  # no "-0"
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _fmt(value) -> str:
    """A value as escaped HTML; missing values as a grey n/a."""
    return NA if _missing(value) else _esc(_text(value))


def _pct(value) -> str:
    return f"{100 * value:.2f}%" if _is_number(value) else NA


def _kib(size) -> str:
    return f"{size / 1024:,.1f} KiB" if _is_number(size) else "n/a"


def _slice_name(key: str) -> str:
    return "(overall)" if key == OVERALL else key


# ---- result access ------------------------------------------------------

def _references(result: dict) -> list:
    return list(result.get("references") or [])


def _model_names(result: dict) -> list:
    return [QUANTIZED, *_references(result)]


def _slice(result: dict, key: str = OVERALL) -> dict:
    return (result.get("slices") or {}).get(key) or {}


def _metric(slice_: dict, model: str, name: str):
    return ((slice_.get("metrics") or {}).get(model) or {}).get(name)


def _drop(slice_: dict, reference: str, name: str) -> dict:
    return ((slice_.get("drops") or {}).get(reference) or {}).get(name) or {}


def _is_per_class(name: str) -> bool:
    for prefix in ("precision_class_", "recall_class_"):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return True
    return False


def _is_classification(result: dict) -> bool:
    return result.get("task") == "classification"


# ---- html building blocks -----------------------------------------------

def _td(content: str, cls: str = "num") -> str:
    return f'<td class="{cls}">{content}</td>' if cls else f"<td>{content}</td>"


def _table(headers: list, rows: list, cls: str = "") -> str:
    """headers: escaped HTML strings; rows: complete <tr> strings."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join(rows)
    return f'<table class="{cls}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}">\n<h2>{_esc(title)}</h2>\n{body}\n</section>'


def _drop_class(absolute) -> str:
    """Cell class for a drop: positive (worse) in red, negative (better) in green."""
    if not _is_number(absolute) or absolute == 0:
        return "num"
    return "num worse" if absolute > 0 else "num better"


def _drop_cells(drop: dict) -> str:
    """Absolute and relative drop cells."""
    cls = _drop_class(drop.get("absolute"))
    return _td(_fmt(drop.get("absolute")), cls) + _td(_pct(drop.get("relative")), cls)


# ---- sections -----------------------------------------------------------

def _header(result: dict) -> str:
    if result.get("blessed"):
        badge = '<span class="badge blessed">BLESSED</span>'
    else:
        badge = '<span class="badge not-blessed">NOT BLESSED</span>'
    facts = [("mode", result.get("mode")), ("task", result.get("task")),
             ("examples", result.get("examples")), ("primary metric", result.get("primary_metric")),
             ("references", ", ".join(map(str, _references(result))) or None)]
    items = "".join(f"<li><b>{_esc(k)}</b>: {_fmt(v)}</li>" for k, v in facts)
    return f'<header>\n<h1>EdgeEvaluator {badge}</h1>\n<ul class="facts">{items}</ul>\n</header>'


def _check_row(check: dict) -> str:
    passed = bool(check.get("passed"))
    verdict = '<span class="pass">passed</span>' if passed else '<span class="fail">FAILED</span>'
    reference = check.get("reference")
    cells = [_td(_esc(check.get("name", "")), ""), _td(_esc(_slice_name(check.get("slice", OVERALL))), ""),
             _td(_esc(reference) if reference is not None else "&mdash;", ""),
             _td(_fmt(check.get("value"))), _td(_fmt(check.get("limit"))), _td(verdict, ""),
             _td(_esc(check.get("detail", "")), "")]
    return f'<tr class="{"passed" if passed else "failed"}">{"".join(cells)}</tr>'


def _gate_section(result: dict) -> str:
    checks = result.get("checks") or []
    if not checks:
        return _section("gate", "Gate", '<p class="note">No checks were configured.</p>')
    headers = ["Check", "Slice", "Reference", "Value", "Limit", "Result", "Detail"]
    return _section("gate", "Gate", _table(headers, [_check_row(c) for c in checks], "gate"))


def _overall_metric_names(slice_: dict, models: list) -> list:
    names = []
    for model in models:
        for name in (slice_.get("metrics") or {}).get(model) or {}:
            if name not in names and not _is_per_class(name):
                names.append(name)
    return names


def _metric_row(result: dict, slice_: dict, name: str) -> str:
    cells = [_td(_esc(name), "")]
    cells += [_td(_fmt(_metric(slice_, model, name))) for model in _model_names(result)]
    for reference in _references(result):
        drop = _drop(slice_, reference, name)
        cells.append(_drop_cells(drop) if drop else _td("") + _td(""))
    primary = ' class="primary"' if name == result.get("primary_metric") else ""
    return f"<tr{primary}>{''.join(cells)}</tr>"


def _pairs_note(slice_: dict) -> str:
    items = [f"{_esc(ref)}: agreement {_fmt(p.get('agreement'))}, "
             f"max output difference {_fmt(p.get('max_output_diff'))}"
             for ref, p in (slice_.get("pairs") or {}).items() if isinstance(p, dict)]
    return f'<p class="note">Quantized vs {"; ".join(items)}.</p>' if items else ""


def _metrics_section(result: dict) -> str:
    slice_ = _slice(result)
    names = _overall_metric_names(slice_, _model_names(result))
    if not names:
        return _section("metrics", "Metrics (overall)", '<p class="note">No metrics.</p>')
    headers = ["Metric", *(_esc(m) for m in _model_names(result))]
    for reference in _references(result):
        headers += [f"drop vs {_esc(reference)}", f"relative drop vs {_esc(reference)}"]
    rows = [_metric_row(result, slice_, name) for name in names]
    note = '<p class="note">Drops are positive when the quantized model is worse.</p>'
    return _section("metrics", "Metrics (overall)",
                    _table(headers, rows, "metrics") + _pairs_note(slice_) + note)


def _class_ids(result: dict, slice_: dict) -> list:
    count = result.get("num_classes")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return list(range(count))
    names = (slice_.get("metrics") or {}).get(QUANTIZED) or {}
    prefix = "recall_class_"
    return sorted(int(n[len(prefix):]) for n in names if n.startswith(prefix) and n[len(prefix):].isdigit())


def _per_class_row(slice_: dict, i: int, reference) -> str:
    models = [QUANTIZED] + ([reference] if reference else [])
    cells = [_td(str(i))]
    for model in models:
        cells += [_td(_fmt(_metric(slice_, model, f"{kind}_class_{i}"))) for kind in ("precision", "recall")]
    if reference:
        quant, ref = (_metric(slice_, m, f"recall_class_{i}") for m in (QUANTIZED, reference))
        drop = ref - quant if _is_number(quant) and _is_number(ref) else None
        cells.append(_td(_fmt(drop), _drop_class(drop)))
    return f"<tr>{''.join(cells)}</tr>"


def _per_class_section(result: dict) -> str:
    if not _is_classification(result):
        return ""
    slice_ = _slice(result)
    ids = _class_ids(result, slice_)
    if not ids:
        return ""
    refs = _references(result)
    reference = refs[0] if refs else None
    headers = ["Class", "precision quantized", "recall quantized"]
    if reference:
        headers += [f"precision {_esc(reference)}", f"recall {_esc(reference)}", "recall drop"]
    rows = [_per_class_row(slice_, i, reference) for i in ids]
    return _section("per-class", "Per class (overall)", _table(headers, rows, "per-class"))


def _cell_value(matrix, i: int, j: int):
    try:
        return matrix[i][j]
    except (IndexError, KeyError, TypeError):
        return None


def _confusion_cell(count, total, baseline_count, diagonal: bool) -> str:
    if not _is_number(count):
        return _td(NA, "")
    alpha = count / total if _is_number(total) and total > 0 else 0.0
    style = f"background: rgba(37, 99, 235, {alpha:.3f});" + (" color: #fff;" if alpha > 0.55 else "")
    worse = not diagonal and _is_number(baseline_count) and count > baseline_count
    cls = ' class="worse"' if worse else ""
    title = f' title="reference: {_esc(_text(baseline_count))}"' if baseline_count is not None else ""
    return f'<td{cls} style="{style}"{title}>{_esc(_text(count))}</td>'


def _confusion_table(name: str, matrix: list, baseline) -> str:
    width = max((len(row) for row in matrix), default=0)
    header = "".join(f"<th>{j}</th>" for j in range(width))
    rows = []
    for i, row in enumerate(matrix):
        total = sum(c for c in row if _is_number(c))
        cells = "".join(_confusion_cell(c, total, _cell_value(baseline, i, j), i == j)
                        for j, c in enumerate(row))
        rows.append(f"<tr><th>{i}</th>{cells}</tr>")
    body = "\n".join(rows)
    return (f'<div><h3>{_esc(name)}</h3>\n<table class="confusion" data-model="{_esc(name)}">\n'
            f'<thead><tr><th>label &#8595; / pred &#8594;</th>{header}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table></div>")


def _confusion_section(result: dict) -> str:
    confusion = result.get("confusion") or {}
    if not _is_classification(result) or not confusion:
        return ""
    refs = _references(result)
    reference = refs[0] if refs else None
    baseline = confusion.get(reference) if reference else None
    tables = [_confusion_table(QUANTIZED, confusion[QUANTIZED], baseline)] if confusion.get(QUANTIZED) else []
    if baseline:
        tables.append(_confusion_table(reference, baseline, None))
    if not tables:
        return ""
    note = ('<p class="note">Rows are labels, columns predictions; shading is the share of the row. '
            f"Outlined cells: more errors than {_esc(reference)}.</p>" if baseline else "")
    return _section("confusion", "Confusion matrices (overall)",
                    f'<div class="matrices">{"".join(tables)}</div>{note}')


# ---- bars (inline SVG) --------------------------------------------------

_LABEL_W, _BAR_W, _CHART_W, _ROW_H = 170, 460, 1000, 24


def _bar_width(value, scale) -> float:
    if not _is_number(value) or not _is_number(scale) or scale <= 0:
        return 0.0
    return max(1.0, _BAR_W * min(value, scale) / scale)


def _bar_chart(rows: list, scale, label: str) -> str:
    """rows: (name, [(value, colour), ...] drawn in order, plain-text note)."""
    height = _ROW_H * len(rows) + 6
    parts = [f'<svg class="bars" width="{_CHART_W}" height="{height}" '
             f'viewBox="0 0 {_CHART_W} {height}" role="img" aria-label="{_esc(label)}">']
    for k, (name, bars, note) in enumerate(rows):
        y = 3 + k * _ROW_H
        parts.append(f'<text x="{_LABEL_W - 8}" y="{y + 16}" text-anchor="end">{_esc(name)}</text>')
        widths = [_bar_width(value, scale) for value, _ in bars] or [0.0]
        for (_, colour), width in zip(bars, widths):
            parts.append(f'<rect x="{_LABEL_W}" y="{y + 3}" width="{width:.1f}" '
                         f'height="{_ROW_H - 7}" fill="{colour}"/>')
        parts.append(f'<text x="{_LABEL_W + max(widths) + 6:.1f}" y="{y + 16}">{_esc(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _colours(model: str, slower: bool = False) -> tuple:
    """(dark, light) fill for a model's bars."""
    if slower:
        return "#dc2626", "#fca5a5"
    return ("#2563eb", "#93c5fd") if model == QUANTIZED else ("#6b7280", "#d1d5db")


def _size_note(size, reference_size, reference) -> str:
    """Plain text: the size in KiB and, when known, its share of the reference's."""
    note = _kib(size)
    if _is_number(size) and _is_number(reference_size) and reference_size > 0:
        note += f" ({100 * size / reference_size:.1f}% of {reference})"
    return note


def _size_chart(result: dict) -> str:
    models = result.get("models") or {}
    names = [m for m in _model_names(result) if m in models]
    sizes = {m: (models.get(m) or {}).get("size_bytes") for m in names}
    refs = _references(result)
    reference = refs[0] if refs else None
    rows = [(m, [(sizes[m], _colours(m)[0])],
             _size_note(sizes[m], sizes.get(reference), reference) if m == QUANTIZED else _kib(sizes[m]))
            for m in names]
    scale = max((s for s in sizes.values() if _is_number(s)), default=None)
    return _bar_chart(rows, scale, "model size") if rows else '<p class="note">No model sizes.</p>'


def _ops_text(ops) -> str:
    if not isinstance(ops, dict):
        return _text(ops)
    return ", ".join(f"{k} {_text(v)}" for k, v in ops.items())


def _models_table(result: dict) -> str:
    models = result.get("models") or {}
    rows = []
    for name in [m for m in _model_names(result) if m in models]:
        model = models.get(name) or {}
        size = model.get("size_bytes")
        cells = [_td(_esc(name), ""), _td(_esc(_kib(size)) if _is_number(size) else NA),
                 _td(_fmt(model.get("path")), ""), _td(_esc(_ops_text(model.get("ops"))) if model.get("ops") else NA, "")]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(["Model", "Size", "Path", "Ops"], rows, "models") if rows else ""


def _kernels(latency: dict) -> list:
    kernels = []
    for per_model in latency.values():
        for kernel in per_model or {}:
            if kernel not in kernels:
                kernels.append(kernel)
    return kernels


def _stat(latency: dict, model: str, kernel: str, key: str):
    return (((latency.get(model) or {}).get(kernel)) or {}).get(key)


def _is_slower(latency: dict, kernel: str) -> bool:
    """Quantized p50 above the float reference's p50 under this kernel."""
    quant = _stat(latency, QUANTIZED, kernel, "p50_us")
    ref = _stat(latency, FLOAT_REFERENCE, kernel, "p50_us")
    return _is_number(quant) and _is_number(ref) and quant > ref


def _latency_rows(result: dict, latency: dict, kernel: str, slower: bool) -> list:
    names = [*_model_names(result), *(m for m in latency if m not in _model_names(result))]
    rows = []
    for model in names:
        if not isinstance((latency.get(model) or {}).get(kernel), dict):
            continue
        p50, p95 = (_stat(latency, model, kernel, k) for k in ("p50_us", "p95_us"))
        dark, light = _colours(model, slower and model == QUANTIZED)
        note = f"p50 {_text(p50)} µs · p95 {_text(p95)} µs"
        if slower and model == QUANTIZED:
            note += f" · {SLOWER}"
        rows.append((model, [(p95, light), (p50, dark)], note))
    return rows


def _latency_charts(result: dict) -> str:
    latency = result.get("latency") or {}
    kernels = _kernels(latency)
    if not kernels:
        return '<p class="note">Latency was not measured.</p>'
    scale = max((v for m in latency for k in kernels for v in
                 (_stat(latency, m, k, "p95_us"), _stat(latency, m, k, "p50_us")) if _is_number(v)),
                default=None)
    parts = ['<p class="note">Batch-1 latency per kernel: dark bar p50, light bar p95 (microseconds).</p>']
    for kernel in kernels:
        slower = _is_slower(latency, kernel)
        marker = f' <span class="slower">{SLOWER}</span>' if slower else ""
        parts.append(f'<h3 class="kernel">{_esc(kernel)}{marker}</h3>')
        parts.append(_bar_chart(_latency_rows(result, latency, kernel, slower), scale, f"latency {kernel}"))
    return "\n".join(parts)


def _performance_section(result: dict) -> str:
    body = (f"<h3>Model size</h3>\n{_size_chart(result)}\n{_models_table(result)}\n"
            f"<h3>Latency</h3>\n{_latency_charts(result)}")
    return _section("performance", "Size and latency", body)


# ---- slices and footer --------------------------------------------------

def _slice_row(result: dict, key: str, slice_: dict, primary: str) -> str:
    cells = [_td(_esc(_slice_name(key)), ""), _td(_fmt(slice_.get("examples"))),
             _td(_fmt(_metric(slice_, QUANTIZED, primary)))]
    for reference in _references(result):
        drop = _drop(slice_, reference, primary)
        cells.append(_td(_fmt(_metric(slice_, reference, primary))))
        cells.append(_drop_cells(drop) if drop else _td(NA) + _td(NA))
    return f"<tr>{''.join(cells)}</tr>"


def _slices_section(result: dict) -> str:
    slices = result.get("slices") or {}
    if len(slices) < 2:
        return ""
    primary = result.get("primary_metric") or ""
    headers = ["Slice", "Examples", f"{_esc(primary)} quantized"]
    for reference in _references(result):
        headers += [f"{_esc(primary)} {_esc(reference)}", f"drop vs {_esc(reference)}",
                    f"relative drop vs {_esc(reference)}"]
    keys = sorted(slices, key=lambda k: k != OVERALL)  # overall first, others in given order
    rows = [_slice_row(result, k, slices[k] or {}, primary) for k in keys]
    return _section("slices", "Slices", _table(headers, rows, "slices"))


def _trial_row(trial: dict, selected) -> str:
    passed = bool(trial.get("passed"))
    verdict = '<span class="pass">passed</span>' if passed else '<span class="fail">failed</span>'
    name = _esc(trial.get("name", "")) + (" <b>(selected)</b>" if trial.get("name") == selected else "")
    cells = [_td(name, ""), _td(_kib(trial.get("size_bytes"))), _td(_fmt(trial.get("latency_p50_us"))),
             _td(_fmt(trial.get("metric"))), _td(_fmt(trial.get("reference"))),
             _td(_fmt(trial.get("absolute_drop")), _drop_class(trial.get("absolute_drop"))),
             _td(_fmt(trial.get("seconds"))), _td("yes" if trial.get("cached") else "no", ""),
             _td(verdict, ""), _td(_esc("; ".join(trial.get("reasons") or [])), "")]
    return f'<tr class="{"passed" if passed else "failed"}">{"".join(cells)}</tr>'


def _auto_section(result: dict) -> str:
    """The Quantizer's auto search, when mode was 'auto': every trial and the decision."""
    auto = result.get("auto")
    if not auto:
        return ""
    v = auto.get("validation") or {}
    decision = (f"selected <b>{_esc(auto.get('selected'))}</b>" if auto.get("met") else
                f"<b>no candidate met the tolerance</b>; best found: {_esc(auto.get('best'))}")
    intro = (f"<p>{len(auto.get('trials') or [])} trial(s) in {_fmt(auto.get('seconds'))} s on "
             f"{_fmt(v.get('examples'))} validation examples of split <code>{_esc(v.get('split'))}</code>, "
             f"metric {_esc(auto.get('metric'))}, tolerance {_esc(auto.get('tolerance'))}: {decision}."
             + (f" Stopped: {_esc(auto.get('stopped'))}." if auto.get("stopped") else "") + "</p>")
    headers = ["Candidate", "Size", "p50 us", "Metric", "Float32", "Drop", "Seconds", "Cached", "Result",
               "Why"]
    rows = [_trial_row(t, auto.get("selected")) for t in auto.get("trials") or []]
    return _section("auto", "Quantization search (mode auto)", intro + _table(headers, rows, "auto"))


def _footer(result: dict) -> str:
    mapping = result.get("input_mapping") or {}
    rows = [f"<tr><td><code>{_esc(k)}</code></td><td><code>{_esc(v)}</code></td></tr>"
            for k, v in mapping.items()]
    mapping_html = (_table(["Model input", "Feature"], rows, "mapping") if rows
                    else '<p class="note">No input mapping.</p>')
    facts = (f"<p><b>Output</b>: <code>{_fmt(result.get('output_name'))}</code> &middot; "
             f"<b>Label format</b>: {_fmt(result.get('label_format'))}</p>")
    config = json.dumps(result.get("config"), indent=2, default=str)
    return (f'<footer id="inputs">\n<h2>Inputs and configuration</h2>\n{mapping_html}\n{facts}\n'
            f"<h3>Config</h3>\n<pre>{_esc(config)}</pre>\n</footer>")


def render_html(result: dict) -> str:
    """The whole report as one HTML document (inline CSS and SVG, no scripts)."""
    sections = [_header(result), _gate_section(result), _auto_section(result), _metrics_section(result),
                _per_class_section(result), _confusion_section(result),
                _performance_section(result), _slices_section(result), _footer(result)]
    body = "\n".join(s for s in sections if s)
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(TITLE)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f'<body>\n<main class="container">\n{body}\n</main>\n</body>\n</html>\n')
