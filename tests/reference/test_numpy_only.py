"""manual_backprop is NumPy only: importing and running it never loads torch."""

import subprocess
import sys


def test_manual_backprop_never_imports_torch():
    code = ("import sys, numpy as np; import manual_backprop as mb; "
            "net = mb.MLP([3, 4, 2]); net.forward(np.ones((3, 5))); net.backward(np.zeros((2, 5))); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_pytest_plugin_loads_torch_only_when_the_fixture_is_used():
    """The plugin is loaded in every pytest session of an environment with this project installed."""
    code = ("import sys; import torch_ref, torch_ref.pytest_plugin; "
            "assert 'torch' not in sys.modules, 'importing the plugin loaded torch'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
