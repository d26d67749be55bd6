"""The `tfx-edge` command's face and the optional extras' messages (no TensorFlow needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tfx_edge import extras


def test_help_is_fast_and_loads_no_tensorflow():
    code = ("import sys, contextlib, io\n"
            "from tfx_edge.pipelines import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n        cli.main(['demo', '--help'])\n    except SystemExit:\n        pass\n"
            "assert '--placement' in out.getvalue() and 'default:' in out.getvalue(), out.getvalue()\n"
            "heavy = sorted({'tensorflow', 'tfx', 'apache_beam', 'ml_metadata'} & set(sys.modules))\n"
            "assert not heavy, heavy\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 2.0


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "tfx-edge")
    proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "demo" in proc.stdout and "vertex" in proc.stdout and "report" in proc.stdout


@pytest.mark.parametrize("module, extra", [("ai_edge_quantizer", "aeq"), ("tensorflow_model_optimization", "qat"),
                                           ("kfp", "kfp"), ("sklearn.datasets", "demo")])
def test_a_missing_extra_says_which_to_install(module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)   # what an environment without the package gives
    with pytest.raises(ImportError, match=rf"pip install 'tfx-edge\[{extra}\]'"):
        extras.require(module, "this feature")


def test_vertex_refuses_placeholder_values():
    from tfx_edge.pipelines import compile_vertex
    args = compile_vertex.parse_args(["--image", "example.com/tfx-edge:1"])
    with pytest.raises(SystemExit, match=r"--pipeline-root, --data-root, --serving-dir still have placeholder"):
        compile_vertex.check_placeholders(args)


def test_report_of_a_missing_artifact_says_what_to_give(tmp_path, capsys):
    from tfx_edge.pipelines import cli
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "give an EdgeEvaluation artifact's directory" in capsys.readouterr().err
