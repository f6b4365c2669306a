"""manual_backprop is NumPy only: importing and running it never loads torch.

Each check runs in a child process twice: with torch blocked (``sys.modules["torch"]
= None`` makes every ``import torch`` raise ImportError), so that an import of
torch anywhere on the way fails the test, and as installed, so that an import
that would swallow the ImportError is caught too: the child ends by checking
that no torch was loaded.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import manual_backprop
from manual_backprop import fast_step

BLOCK_TORCH = "sys.modules['torch'] = None  # any import of torch now raises\n"
NO_TORCH_LOADED = "\nassert sys.modules.get('torch') is None, sorted(m for m in sys.modules if 'torch' in m)\n"


@pytest.fixture(params=["torch-blocked", "torch-as-installed"])
def run_without_torch(request):
    """``run(code)`` runs ``code`` in a child Python and returns its stdout; fails if it fails or loads torch."""
    def run(code: str) -> str:
        block = BLOCK_TORCH if request.param == "torch-blocked" else ""
        result = subprocess.run([sys.executable, "-c", "import sys\n" + block + code + NO_TORCH_LOADED],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout
    return run


def test_every_module_of_manual_backprop_imports_without_torch(run_without_torch):
    """Found by walking the package (the oracle's modules too), compared with the package's files."""
    imported = json.loads(run_without_torch(
        "import importlib, json, pkgutil, manual_backprop\n"
        "def stop(name):\n"
        "    raise ImportError(f'walking the package failed at {name}')\n"
        "names = ['manual_backprop'] + [m.name for m in pkgutil.walk_packages(\n"
        "    manual_backprop.__path__, 'manual_backprop.', onerror=stop) if not m.name.endswith('__main__')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(names))\n"))
    root = Path(manual_backprop.__file__).parent
    files = {".".join(("manual_backprop", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
             for p in root.rglob("*.py") if p.stem != "__main__"}
    assert set(imported) == files, f"walked but no file: {set(imported) - files}; a file not walked: {files - set(imported)}"
    assert "manual_backprop.oracle.finite_differences" in imported and "manual_backprop._blas" in imported


def test_train_step_on_both_routes_and_a_finite_difference_check_without_torch(run_without_torch):
    report = json.loads(run_without_torch(
        "import json\n"
        "import numpy as np\n"
        "from manual_backprop import MLP, fast_step\n"
        "from manual_backprop.oracle.cases import random_batch\n"
        "from manual_backprop.oracle.finite_differences import numerical_grads\n"
        "from manual_backprop.oracle.tolerances import FINITE_DIFFERENCE, is_close\n"
        "fast_step.GEMM_MIN = 0  # were the gemm route on, every layer would take it\n"
        "sizes, report = [3, 5, 2], {'gemm route': fast_step.gemm_route().taken}\n"
        "I, Y = random_batch(sizes, 8, seed=1)\n"
        "for use in (True, False):\n"
        "    fast_step.USE_GEMM = use\n"
        "    net, called = MLP(sizes, seed=0), set()\n"
        "    before = {k: p.copy() for k, p in net.params.items()}\n"
        "    def record(name, fn):\n"
        "        called.add(name)\n"
        "        return fn\n"
        "    with fast_step.instrumented(record):\n"
        "        loss = net.train_step(I, Y, 0.1)\n"
        "    moved = all(not np.array_equal(p, before[k]) for k, p in net.params.items())\n"
        "    report['gemm' if use else 'matmul'] = {'loss': loss, 'moved': moved, 'gemm called': 'gemm' in called}\n"
        "net.forward(I)\n"
        "grads, fd = net.backward(Y), numerical_grads(net, I, Y)\n"
        "report['finite differences agree'] = all(is_close(grads[k], fd[k], FINITE_DIFFERENCE) for k in grads)\n"
        "print(json.dumps(report))\n"))
    assert report["gemm route"] == fast_step.gemm_route().taken, "the child found another route than this process"
    for route in ("gemm", "matmul"):
        assert report[route]["moved"] and report[route]["loss"] > 0, f"{route}: {report[route]}"
    assert report["gemm"]["gemm called"] == report["gemm route"], "the gemm route was on but no gemm was called"
    assert not report["matmul"]["gemm called"]
    assert report["finite differences agree"]


def test_pytest_plugin_loads_torch_only_when_the_fixture_is_used():
    """The plugin is loaded in every pytest session of an environment with this project installed."""
    code = ("import sys; import torch_ref, torch_ref.pytest_plugin; "
            "assert 'torch' not in sys.modules, 'importing the plugin loaded torch'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
