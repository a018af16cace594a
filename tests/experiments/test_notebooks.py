"""The example notebooks: generated from ``tools/make_notebooks.py`` with no outputs, and each executes top to bottom.

Execution runs every ``examples/*.ipynb`` in a fresh IPython kernel on *this* interpreter
(a kernelspec written to a temporary folder whose argv is ``sys.executable``, so a ``python3``
kernelspec elsewhere on the machine cannot substitute another Python). Each notebook ends
with cells that assert what it shows, so a broken feature fails here, not only a crash.
"""

import ast
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
KERNEL_NAME = "emotion-circuits-test"


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "tools" / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_notebooks_match_generator_and_have_no_outputs(tmp_path):
    pytest.importorskip("nbformat")
    gen = _generator()
    assert sorted(gen.NOTEBOOKS) == [p.name for p in NOTEBOOKS], "examples/ and tools/make_notebooks.py list different notebooks"
    for name, cells in gen.NOTEBOOKS.items():
        fresh = json.loads(gen.write(name, cells, out=tmp_path).read_text())
        stored = json.loads((EXAMPLES / name).read_text())
        assert stored == fresh, f"examples/{name} is stale: run 'python tools/make_notebooks.py'"
        for i, cell in enumerate(stored["cells"]):
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{name} cell {i} has outputs stored"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec folder whose only kernel runs ``sys.executable -m ipykernel_launcher``."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    d = tmp_path_factory.mktemp("kernels")
    (d / KERNEL_NAME).mkdir()
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "emotion-circuits test kernel", "language": "python"}
    (d / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec))
    return d


PROBE = ("import sys, interp\n"
         "print(repr(sys.executable))\n"
         "print(repr(interp.__file__))")


def _failure(path: Path, index: int, cell, exc) -> str:
    source = "\n".join("    " + line for line in cell.source.splitlines())
    return (f"{path.relative_to(ROOT)}: cell {index} failed with {exc.ename}: {exc.evalue}\n"
            f"--- cell {index} source ---\n{source}\n--- traceback ---\n{exc.traceback}")


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, kernel_dir):
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from interp.registry import KNOWN_MODELS

    if not KNOWN_MODELS["smollm2-135m"].package_installed():
        pytest.skip(f"smollm2-135m weights not installed: {KNOWN_MODELS['smollm2-135m'].install}")
    nb = nbformat.read(path, as_version=4)
    cells = list(nb.cells)
    # a probe cell first (index -1 below), so the kernel's interpreter and imports are checked before the notebook runs
    nb.cells = [nbformat.v4.new_code_cell(PROBE), *cells]
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(ROOT)}})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    timings = []
    start = time.perf_counter()
    with client.setup_kernel(env=env, cleanup_kc=True):
        probe = client.execute_cell(nb.cells[0], 0)
        out = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream").splitlines()
        assert out[0] == repr(sys.executable), f"kernel runs {out[0]}, not the test's interpreter {sys.executable!r}"
        assert Path(ast.literal_eval(out[1])).resolve().is_relative_to(ROOT), f"kernel imports interp from {out[1]}, not from {ROOT}"
        for index, cell in enumerate(cells):
            t = time.perf_counter()
            try:
                client.execute_cell(cell, index + 1)
            except CellExecutionError as exc:
                pytest.fail(_failure(path, index, cell, exc), pytrace=False)
            timings.append((index, time.perf_counter() - t))
    wall = time.perf_counter() - start
    slowest = ", ".join(f"cell {i} {s:.1f}s" for i, s in sorted(timings, key=lambda x: -x[1])[:3])
    last = next(c for c in reversed(cells) if c.cell_type == "code")
    checks = "".join(o.get("text", "") for o in last.outputs if o.get("output_type") == "stream").strip()
    print(f"\n{path.name}: {wall:.1f}s (slowest: {slowest}){' -- ' + checks if checks else ''}")
