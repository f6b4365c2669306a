"""The bench (``manual-backprop bench``, torch_ref/bench.py) runs and reports what it says.

No speed is asserted here (that is the bench's own job)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("torch_ref.bench")


@pytest.mark.parametrize("sizes,N,expected", [
    # one hidden layer: W_H I, dW_H; W_O Ĥ, dW_O, dĤ (the input needs no gradient): 5 products
    pytest.param((4, 16, 2), 32, 2 * 32 * (2 * 16 * 4 + 3 * 2 * 16), id="seed-4-16-2"),
    pytest.param((3, 5), 7, 2 * 7 * (2 * 5 * 3), id="depth1-3-5"),
    pytest.param((2, 3, 4, 5), 6, 2 * 6 * (2 * 3 * 2 + 3 * 4 * 3 + 3 * 5 * 4), id="depth3-2-3-4-5"),
])
def test_matmul_plan_counts_the_steps_products(bench, sizes, N, expected):
    plan, flops = bench.matmul_plan(sizes, N, np.float64, np.random.default_rng(0))
    assert flops == expected, f"{sizes} N={N}: {flops} FLOPs, expected {expected}"
    assert len(plan) == 3 * (len(sizes) - 1) - 1
    for A, B, out in plan:
        assert out.shape == (A.shape[0], B.shape[1])


def test_json_report_of_the_seed_grid(bench, capsys):
    assert bench.main(["--grid", "seed", "--no-compile", "--json", "--repeats", "2",
                       "--min-block", "0.001"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(r["sizes"], r["dtype"]) for r in report["results"]] == [
        ([4, 16, 2], "float64"), ([4, 16, 2], "float32")]
    for row in report["results"]:
        for impl in ("manual", "matmuls", "torch_eager"):
            assert row["seconds"][impl] > 0, f"{impl} not timed"
        assert row["seconds"]["torch_compile"] is None
        assert row["notes"]["torch_compile"] == "skipped (--no-compile)"
    seed_target, big_targets = report["targets"][0], report["targets"][1:]
    assert seed_target["ratio"] > 0 and seed_target["met"] in (True, False)
    assert all(t["met"] is None for t in big_targets), "the big net was not in this grid"
    assert report["machine"]["torch_threads"] >= 1
