"""Train the manual net and its torch twin side by side and report how closely their gradients agree.

    python scripts/compare.py

Runs the seed's net (4-16-2, sigmoid hidden, identity output, half_sse) on a
generated data set; both twins start from the same weights and see the same
mini-batches. Exits 1 if any gradient differs beyond the dtype's tolerance.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from manual_backprop import MLP
from manual_backprop.tolerances import is_close, max_errors, tolerance_for
from torch_ref import TorchMLP


def main() -> int:
    sizes, N, lr, steps = [4, 16, 2], 32, 0.01, 200
    rng = np.random.default_rng(0)
    X_all = rng.standard_normal((sizes[0], 512))
    Y_all = np.stack([np.sin(X_all[0] + X_all[1]), X_all[2] * X_all[3]])  # (2, 512)
    net = MLP(sizes, seed=0)
    model = TorchMLP.from_manual(net)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    tol = tolerance_for(net.dtype)
    worst = {k: 0.0 for k in net.params}
    ok = True
    for step in range(steps):
        cols = rng.choice(X_all.shape[1], N, replace=False)
        I, Y = X_all[:, cols], Y_all[:, cols]
        O = net.forward(I)
        loss = net.loss(O, Y)
        grads = net.backward(Y)
        opt.zero_grad()
        torch_loss = model.loss_fn(model(torch.from_numpy(I.T.copy())), model.targets(Y))
        torch_loss.backward()
        ref = model.grads()
        for k in grads:
            worst[k] = max(worst[k], max_errors(grads[k], ref[k])[1])
            ok &= is_close(grads[k], ref[k], tol)
        net.sgd_step(grads, lr)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss manual {loss:.6f}  torch {torch_loss.item():.6f}")
    print(f"{'parameter':>10}  worst rel. gradient difference (tolerance {tol.rtol:g})")
    for k, v in worst.items():
        print(f"{k:>10}  {v:.2e}")
    print("twins agree" if ok else "TWINS DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
