"""The package is `tfx_edge`: one import path in the source, the wheel and a fresh process."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
import tomllib
import zipfile

REPO = pathlib.Path(__file__).resolve().parents[1]
SHORT_NAMES = {"components", "schemas", "pipelines"}
SOURCE_DIRS = ("tfx_edge", "components", "schemas", "pipelines", "tests", "bench")


def _python_files():
    for folder in SOURCE_DIRS:
        yield from sorted((REPO / folder).rglob("*.py"))


def _imported_top_names(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def test_no_code_imports_the_short_top_level_names():
    found = [f"{path.relative_to(REPO)}:{line} imports {name!r}"
             for path in _python_files()
             for line, name in _imported_top_names(ast.parse(path.read_text()))
             if name in SHORT_NAMES]
    assert not found, "use tfx_edge.<name> instead:\n" + "\n".join(found)


def test_every_package_folder_is_mapped_in_pyproject():
    setuptools_cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(setuptools_cfg["packages"])
    on_disk = {"tfx_edge"}
    for folder in ("components", "schemas", "pipelines"):
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO).parts
            on_disk.add(".".join(("tfx_edge",) + rel))
    assert declared == on_disk


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    """A new interpreter started outside the repository (no source tree on sys.path)."""
    return subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)


def test_pure_core_and_schemas_import_without_tensorflow():
    proc = _fresh_python(
        "import sys, tfx_edge, tfx_edge.schemas, tfx_edge.components, tfx_edge.components.core.metrics,"
        " tfx_edge.components.core.gate, tfx_edge.components.core.slicing\n"
        "heavy = sorted(m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "print(tfx_edge.__version__)")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_short_names_do_not_import_from_outside_the_repository():
    proc = _fresh_python("import components")
    assert proc.returncode != 0 and "No module named 'components'" in proc.stderr


def test_artifact_type_names_resolve_in_a_fresh_process():
    proc = _fresh_python(
        "import importlib\n"
        "from tfx_edge.components import artifacts\n"
        "for cls in (artifacts.QuantizationPlan, artifacts.EdgeEvaluation):\n"
        "    module, name = cls.TYPE_NAME.rsplit('.', 1)\n"
        "    assert getattr(importlib.import_module(module), name) is cls, cls\n"
        "    import re; assert re.fullmatch(r'[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}', cls.TYPE_NAME)\n")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_wheel_holds_only_the_tfx_edge_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"tfx_edge"}
    for expected in ("tfx_edge/__init__.py", "tfx_edge/components/specs.py",
                     "tfx_edge/components/core/gate.py", "tfx_edge/schemas/quantization.py",
                     "tfx_edge/pipelines/pipeline.py", "tfx_edge/py.typed",
                     "tfx_edge/components/edge_evaluator/templates/report.html.j2",
                     "tfx_edge/pipelines/data/penguin/penguins_processed.csv"):
        assert expected in names
