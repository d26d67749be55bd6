"""The bundled demo data: fixed split, and byte-identical across processes (pipeline cache)."""

import hashlib
import os
import subprocess
import sys

from tfx_edge.pipelines import demo_data

WRITE = ("import hashlib, sys; from pipelines import demo_data; "
         "p = demo_data.write(sys.argv[1]); "
         "print(hashlib.sha256(open(p['train'], 'rb').read()).hexdigest())")


def test_split_sizes_and_stratification():
    split = demo_data.digits_split()
    (x_tr, y_tr), (_, y_ev) = split["train"], split["eval"]
    assert (len(y_tr), len(y_ev)) == (1437, 360) and x_tr.shape[1] == 64
    assert set(y_ev.tolist()) == set(range(10)) and x_tr.max() == 16.0


def test_bytes_do_not_depend_on_the_process(tmp_path):
    """Protobuf map order varies per process unless serialized deterministically; a
    changed file would make ExampleGen (and so the whole pipeline) re-run every time."""
    digests = set()
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", WRITE, str(tmp_path / seed)], check=True,
                             capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)),
                             env={**os.environ, "PYTHONHASHSEED": seed})
        digests.add(out.stdout.strip().splitlines()[-1])
    local = demo_data.write(str(tmp_path / "here"))["train"]
    digests.add(hashlib.sha256(open(local, "rb").read()).hexdigest())
    assert len(digests) == 1


def test_unchanged_files_are_not_rewritten(tmp_path):
    path = demo_data.write(str(tmp_path))["eval"]
    os.utime(path, (1, 1))
    demo_data.write(str(tmp_path))
    assert os.path.getmtime(path) == 1
