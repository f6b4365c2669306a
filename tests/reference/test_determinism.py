"""Determinism: the same seed gives bit-identical parameters and gradients.

Across runs in one process, across fresh processes (a subprocess with another
hash seed), and across xdist workers: every worker that runs these tests
compares its own result with a fresh process's, so all workers agree with one
another; copies that the scheduler places on different workers also compare
directly, through a directory all workers share.
The fingerprint is a SHA-256 of every parameter and gradient's name, dtype,
shape and bytes after a few SGD steps, of the manual net and of autograd.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.common import random_batch
from manual_backprop import MLP
from torch_ref import autograd_grads

CONFIGS = {
    "sigmoid-half_sse": ([4, 16, 2], "sigmoid", "identity", "half_sse"),
    "relu-mse-depth3": ([6, 12, 8, 5, 3], "relu", "sigmoid", "mse"),
    "tanh-cross_entropy": ([5, 9, 4], "tanh", "identity", "softmax_cross_entropy"),
}


def fingerprint(config: str, dtype_name: str, seed: int) -> str:
    """SHA-256 of params, manual grads and autograd grads after 5 SGD steps from ``seed``."""
    sizes, activation, output_activation, loss = CONFIGS[config]
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=np.dtype(dtype_name), seed=seed)
    for step in range(5):
        I, Y = random_batch(sizes, 8, loss=loss, seed=seed + step)
        net.train_step(I, Y, lr=0.1)
    I, Y = random_batch(sizes, 8, loss=loss, seed=seed + 5)
    net.forward(I)
    h = hashlib.sha256()
    for prefix, arrays in (("param", net.params), ("grad", net.backward(Y)),
                           ("autograd", autograd_grads(net, I, Y))):
        for key, a in arrays.items():
            h.update(f"{prefix}:{key}:{a.dtype.str}:{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def fingerprints_in_subprocess(seed: int) -> dict[str, str]:
    """Every CASE's fingerprint, computed by one fresh Python process with another hash seed."""
    here = Path(__file__).resolve().parent
    code = (f"import sys, json; sys.path[:0] = [{str(here)!r}, {str(here.parent)!r}]; "
            f"from test_determinism import CASES, fingerprint; "
            f"print(json.dumps({{p.id: fingerprint(*p.values, {seed}) for p in CASES}}))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            cwd=here.parents[1])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def fresh_process():
    """Fingerprints from a fresh process, once per test process (each xdist worker runs its own)."""
    return fingerprints_in_subprocess(3)


CASES = [pytest.param(config, dtype_name, id=f"{config}-{dtype_name}")
         for config in CONFIGS for dtype_name in ("float64", "float32")]


@pytest.mark.parametrize("config,dtype_name", CASES)
def test_same_seed_same_bits_in_one_process(config, dtype_name):
    assert fingerprint(config, dtype_name, 3) == fingerprint(config, dtype_name, 3)


@pytest.mark.parametrize("config,dtype_name", CASES)
def test_another_seed_other_bits(config, dtype_name):
    """The fingerprint sees a change of seed, so the equalities above can fail."""
    assert fingerprint(config, dtype_name, 3) != fingerprint(config, dtype_name, 4)


@pytest.mark.parametrize("config,dtype_name", CASES)
def test_same_seed_same_bits_in_a_fresh_process(config, dtype_name, fresh_process, request):
    assert fresh_process[request.node.callspec.id] == fingerprint(config, dtype_name, 3)


@pytest.mark.parametrize("copy", range(4))
def test_same_seed_same_bits_across_xdist_workers(copy, fresh_process, tmp_path_factory, request):
    """Copies of one computation, for whichever workers the scheduler gives them to: each must
    equal a fresh process's fingerprint and every fingerprint posted in the shared directory."""
    case = "relu-mse-depth3-float32"
    here = fingerprint("relu-mse-depth3", "float32", 3)
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    assert here == fresh_process[case], worker
    shared = tmp_path_factory.getbasetemp()
    if worker != "main":  # under xdist each worker's basetemp sits in one shared parent
        shared = shared.parent
    board = shared / "determinism-fingerprints"
    board.mkdir(exist_ok=True)
    (board / f"{worker}-{copy}.txt").write_text(here)
    posted = {p.name: p.read_text() for p in board.glob("*.txt")}
    assert all(v == here for v in posted.values()), f"{worker}: {here} vs {posted}"
