"""The main job, ``manual-backprop compare`` (torch_ref/compare/main.py), and the lockstep training behind it.

Its verdict must be able to fail: a manual net with a planted mistake has to
make it exit 1, naming the gradient that is off.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from manual_backprop import MLP
from manual_backprop.activations import ACTIVATIONS
from torch_ref.compare.datasets import generated, minibatches, n_batches
from torch_ref.compare.lockstep import lockstep


@pytest.fixture(scope="module")
def compare():
    return importlib.import_module("torch_ref.compare.main")


@pytest.mark.parametrize("argv", [
    pytest.param([], id="seed-net-f64"),
    pytest.param(["--dtype", "float32"], id="seed-net-f32"),
    pytest.param(["--loss", "softmax_cross_entropy", "--sizes", "4", "8", "3"], id="softmax-ce-classes"),
    pytest.param(["--activation", "tanh", "--loss", "mse", "--sizes", "4", "6", "5", "2"], id="depth2-tanh-mse"),
])
def test_twins_agree_and_report(compare, capsys, argv):
    assert compare.main(argv + ["--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "twins agree at every one of" in out
    for name in ("loss", "W_O", "b_O"):
        assert any(line.split()[:1] == [name] for line in out.splitlines()), f"no table row for {name}"


def sigmoid_backward_at_wrong_point(dA, Z, A):
    """The classic slip: σ'(Ĥ) = σ(Ĥ)(1 − σ(Ĥ)) instead of Ĥ(1 − Ĥ)."""
    s = ACTIVATIONS["sigmoid"].forward(A)
    return dA * s * (1.0 - s)


def test_exits_1_when_hidden_derivative_is_wrong(compare, capsys, monkeypatch):
    wrong = ACTIVATIONS["sigmoid"]._replace(backward=sigmoid_backward_at_wrong_point)
    monkeypatch.setitem(ACTIVATIONS, "sigmoid", wrong)
    assert compare.main(["--epochs", "2"]) == 1
    out = capsys.readouterr().out
    verdict = out.splitlines()[-1]
    assert "TWINS DISAGREE" in out and "first at step 0" in out, out[-400:]
    assert "W_H" in out.split("TWINS DISAGREE")[1] and "W_O" not in out.split("TWINS DISAGREE")[1], verdict


def test_exits_1_when_one_gradient_is_scaled(compare, capsys, monkeypatch):
    backward = MLP.backward

    def doubled_b_O(self, Y):
        grads = backward(self, Y)
        grads["b_O"] = 2 * grads["b_O"]
        return grads

    monkeypatch.setattr(MLP, "backward", doubled_b_O)
    assert compare.main(["--epochs", "1", "--dtype", "float32"]) == 1
    tail = capsys.readouterr().out.split("TWINS DISAGREE")[1]
    assert "(b_O beyond tolerance)" in tail, tail


@pytest.mark.parametrize("argv", [
    pytest.param(["--dataset", "digits", "--sizes", "4", "16", "2"], id="digits-wrong-sizes"),
    pytest.param(["--sizes", "4"], id="one-width"),
    pytest.param(["--epochs", "0"], id="zero-epochs"),
    pytest.param(["--activation", "swish"], id="unknown-activation"),
])
def test_bad_options_exit_2(compare, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        compare.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("argv,module,extra", [
    pytest.param(["--plot", "x.png"], "matplotlib", "plot", id="plot-without-matplotlib"),
    pytest.param(["--dataset", "digits"], "sklearn", "digits", id="digits-without-scikit-learn"),
])
def test_missing_optional_extra_is_a_clear_error(compare, capsys, monkeypatch, argv, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail as if not installed
    with pytest.raises(SystemExit) as exc:
        compare.main(argv)
    assert exc.value.code == 2
    assert f'pip install "manual-backprop[{extra}]"' in capsys.readouterr().err


def test_plot_writes_a_small_png(compare, tmp_path, capsys):
    pytest.importorskip("matplotlib")  # an optional extra: ".[plot]"
    path = tmp_path / "compare.png"
    assert compare.main(["--epochs", "2", "--plot", str(path)]) == 0
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert 5_000 < len(data) < 200_000, f"PNG of {len(data)} bytes"


def test_digits_run(compare, capsys):
    pytest.importorskip("sklearn")  # an optional extra: ".[digits]"
    assert compare.main(["--dataset", "digits", "--epochs", "1", "--no-progress"]) == 0
    assert "1797 samples" in capsys.readouterr().out


def test_minibatches_cover_every_sample_once_per_epoch():
    X = np.arange(3 * 10, dtype=float).reshape(3, 10)
    Y = np.arange(10)
    batches = list(minibatches(X, Y, batch_size=4, epochs=2, seed=1))
    assert len(batches) == n_batches(10, 4, 2) == 6
    for epoch in (0, 1):
        seen = np.concatenate([y for e, _, y in batches if e == epoch])
        assert sorted(seen) == list(range(10)), f"epoch {epoch} saw {sorted(seen)}"
    for _, I, y in batches:
        assert np.array_equal(I, X[:, y]), "inputs and targets of a batch do not belong together"


def test_resync_gives_the_twin_the_manual_weights_every_step():
    net = MLP([3, 5, 2], activation="relu", dtype=np.float32, seed=2)
    X, Y = generated(3, 2, class_index=False, n=40, seed=2)
    result = lockstep(net, minibatches(X, Y, 8, 3), lr=0.05, resync=True)
    assert result.passed
    assert len(result.records) == 15
    # After the last step both took one SGD step from the same weights: they differ by rounding only.
    for name, d in result.final_weights.items():
        assert d.passed, f"{name}: weights differ by {d.max_rel_err:.2e} after a resynced step"
