"""The text of the student's starter, the teacher's solution, the public tests and the notebook.

Each part's docstring gives the seed's equations with every array's shape,
taken from the registry text ``manual-backprop explain`` prints
(``manual_backprop.explain``), with the shape letters D_I, D_H, D_O and N in
place of numbers. The starter and the solution share those docstrings: the
solution is the starter with its bodies written.
"""

from __future__ import annotations

import json
import re

from manual_backprop.activations import ELU_ALPHA, LEAKY_RELU_SLOPE
from manual_backprop.explain import backward_equations, forward_equations
from manual_backprop.losses import get_loss
from manual_backprop.oracle.graded import GRADED_PARTS

from .config import Config

# Widths that appear nowhere else in the equations' text, each then replaced by its letter.
_PROBE = {101: "D_I", 103: "D_H", 107: "D_O", 109: "N"}

# The hidden activation in NumPy: Ĥ from H, and f′ from H and Ĥ (the solution's lines).
ACTIVATION_CODE = {
    "sigmoid": ("1 / (1 + np.exp(-H))", "H_hat * (1 - H_hat)"),
    "tanh": ("np.tanh(H)", "1 - H_hat ** 2"),
    "relu": ("np.maximum(H, 0)", "(H > 0)"),
    "leaky_relu": (f"np.where(H > 0, H, {LEAKY_RELU_SLOPE!r} * H)", f"np.where(H > 0, 1.0, {LEAKY_RELU_SLOPE!r})"),
    "identity": ("H", "1.0"),
    "softplus": ("np.logaddexp(0, H)", "1 / (1 + np.exp(-H))"),
    "elu": (f"np.where(H > 0, H, {ELU_ALPHA!r} * np.expm1(np.minimum(H, 0)))",
            f"np.where(H > 0, 1.0, {ELU_ALPHA!r} * np.exp(np.minimum(H, 0)))"),
}
# Each loss: the lines of loss(O, Y)'s body, and the lines that compute dO in backward.
LOSS_CODE = {
    "half_sse": (["return 0.5 * float(np.sum((O - Y) ** 2))  # summed over outputs and batch"],
                 ["dO = O - Y  # (D_O, N)"]),
    "mse": (["return float(np.mean((O - Y) ** 2))  # the mean over all D_O·N entries"],
            ["dO = 2 * (O - Y) / O.size  # (D_O, N)"]),
    "softmax_cross_entropy": (
        ["Z = O - O.max(axis=0, keepdims=True)  # (D_O, N), shifted so that exp cannot overflow",
         "log_p = Z - np.log(np.exp(Z).sum(axis=0, keepdims=True))  # (D_O, N): log softmax per sample",
         "return float(-log_p[Y, np.arange(O.shape[1])].mean())  # the mean over the batch"],
        ["P = np.exp(O - O.max(axis=0, keepdims=True))",
         "P = P / P.sum(axis=0, keepdims=True)  # (D_O, N): softmax per sample",
         "P[Y, np.arange(I.shape[1])] -= 1  # minus the one-hot targets",
         "dO = P / I.shape[1]  # (D_O, N)"]),
}
HINTS = {
    "forward": "compute H, then Ĥ, then O, as the docstring says",
    "loss": "return the loss L of the docstring, one number",
    "backward": "go back from dL/dO to every parameter, as the docstring says",
    "sgd_step": "return {name: w - lr * grads[name]} for every parameter",
}
SIGNATURES = {name: part.signature.split(" -> ")[0] for name, part in GRADED_PARTS.items()}  # "forward(params, I)"


def _letters(text: str) -> str:
    return re.sub(r"\b(101|103|107|109)\b", lambda m: _PROBE[int(m.group())], text)


def equations(config: Config) -> dict:
    """Each part's equations (lines of text), with shapes in letters."""
    sizes, N = [101, 103, 107], 109
    loss = get_loss(config.loss)
    back = backward_equations(sizes, N, config.activation, "identity", config.loss)
    targets = "Y (N,) class indices in [0, D_O)" if loss.class_index else "Y (D_O×N)"
    return {
        "forward": [_letters(line) for line in forward_equations(sizes, N, config.activation)],
        "loss": [f"L = {loss.formula.format(D_O='D_O', N='N')}   (one number; O (D_O×N), {targets})"],
        "backward": [_letters(eq.text) for eq in back],
        "sgd_step": ["w := w − lr · dL/dw   for every parameter w (W_H, b_H, W_O, b_O)"],
    }


def _docstring(part: str, config: Config) -> str:
    eqs = "\n".join("    " + line for line in equations(config)[part])
    head = {
        "forward": "The net's output O (D_O, N) for the inputs I (D_I, N).",
        "loss": f"The loss ({config.loss}) of the outputs O against the targets Y, as a float.",
        "backward": "The gradient of the loss for every parameter: a dict keyed and shaped like params.",
        "sgd_step": "One step of gradient descent: a dict of the new parameters (params may be changed in place too).",
    }[part]
    return f'    """{head}\n\n{eqs}\n    """'


def module_docstring(config: Config) -> str:
    loss = get_loss(config.loss)
    targets = "class indices Y (N,)" if loss.class_index else "targets Y (D_O, N)"
    return (f'"""Backpropagation by hand, in NumPy: a net with one hidden layer ({config.activation}), '
            f'a linear output and the {config.loss} loss.\n\n'
            f"Data is laid out features × batch: inputs I (D_I, N), outputs O and {targets}.\n"
            f'params is a dict: {{"W_H": (D_H, D_I), "b_H": (D_H, 1), "W_O": (D_O, D_H), "b_O": (D_O, 1)}},\n'
            f"float64 arrays (biases are columns, so W_H @ I + b_H broadcasts over the batch).\n"
            f'"""\n')


def starter_py(config: Config) -> str:
    """The student's ``backprop.py``: every graded part with its docstring, each raising NotImplementedError."""
    out = [module_docstring(config), "import numpy as np\n"]
    for part in config.parts:
        out.append(f"\ndef {SIGNATURES[part]}:\n{_docstring(part, config)}\n"
                   f'    raise NotImplementedError("not implemented yet: {HINTS[part]}")\n')
    return "\n".join(out)


def _solution_body(part: str, config: Config) -> list:
    f, f_prime = ACTIVATION_CODE[config.activation]
    loss_lines, grad_lines = LOSS_CODE[config.loss]
    if part == "forward":
        return ['H = params["W_H"] @ I + params["b_H"]  # (D_H, N)',
                f"H_hat = {f}  # (D_H, N)",
                'return params["W_O"] @ H_hat + params["b_O"]  # (D_O, N)']
    if part == "loss":
        return list(loss_lines)
    if part == "backward":
        return (['H = params["W_H"] @ I + params["b_H"]  # (D_H, N)',
                 f"H_hat = {f}  # (D_H, N)",
                 'O = params["W_O"] @ H_hat + params["b_O"]  # (D_O, N)']
                + list(grad_lines)
                + ["dW_O = dO @ H_hat.T  # (D_O, D_H)",
                   "db_O = dO.sum(axis=1, keepdims=True)  # (D_O, 1): summed over the batch",
                   'dH_hat = params["W_O"].T @ dO  # (D_H, N)',
                   f"dH = dH_hat * ({f_prime})  # (D_H, N)",
                   "dW_H = dH @ I.T  # (D_H, D_I)",
                   "db_H = dH.sum(axis=1, keepdims=True)  # (D_H, 1): summed over the batch",
                   'return {"W_H": dW_H, "b_H": db_H, "W_O": dW_O, "b_O": db_O}'])
    return ["return {name: w - lr * grads[name] for name, w in params.items()}"]


def solution_py(config: Config) -> str:
    """The teacher's ``backprop.py``: the starter with every body written."""
    out = [module_docstring(config), "import numpy as np\n"]
    for part in config.parts:
        body = "\n".join("    " + line for line in _solution_body(part, config))
        out.append(f"\ndef {SIGNATURES[part]}:\n{_docstring(part, config)}\n{body}\n")
    return "\n".join(out)


def starter_ipynb(config: Config) -> str:
    """The starter as a notebook (nbformat 4.5): a markdown cell per part with its equations above its code,
    and a last cell that runs the public checks."""
    cells = [_markdown(f"# Backpropagation by hand\n\n{_strip_quotes(module_docstring(config))}\n\n"
                       f"Write each function below. To check them, save the notebook and run the last cell.\n"
                       f"Hand in this notebook as `{config.file}.ipynb`."),
             _code("import sys\n\nimport numpy as np")]
    for part in config.parts:
        eqs = "\n".join(equations(config)[part])
        cells.append(_markdown(f"## `{SIGNATURES[part]}`\n\n```\n{eqs}\n```"))
        cells.append(_code(f"def {SIGNATURES[part]}:\n{_docstring(part, config)}\n"
                           f'    raise NotImplementedError("not implemented yet: {HINTS[part]}")'))
    cells.append(_markdown("## Check your work\n\nSave the notebook first (the checks read the saved file), "
                           "then run the cell below. Each part passes, or says what is wrong and the "
                           "equation that fixes it. (The autograder skips this cell.)"))
    cells.append(_code(f"!{{sys.executable}} test_{config.file}.py {config.file}.ipynb"))
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    notebook = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                            "name": "python3"},
                                             "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def solution_ipynb(config: Config) -> str:
    """The solution as a notebook: the starter's cells with the solution's bodies (for tests and for teachers)."""
    notebook = json.loads(starter_ipynb(config))
    for cell in notebook["cells"]:
        for part in config.parts:
            if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(f"def {SIGNATURES[part]}"):
                body = "\n".join("    " + line for line in _solution_body(part, config))
                cell["source"] = _lines(f"def {SIGNATURES[part]}:\n{_docstring(part, config)}\n{body}")
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _strip_quotes(doc: str) -> str:
    return doc.strip().strip('"').strip()


def _lines(text: str) -> list:
    return text.splitlines(keepends=True)


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text)}


def _code(text: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": _lines(text)}


def tests_py(config: Config) -> str:
    """The student's ``test_backprop.py``: one test per part through the ``backprop_oracle`` fixture."""
    net = {"activation": config.activation, "loss": config.loss, "reference": "finite_differences"}
    keyword = {"forward": "forward", "loss": "loss_fn", "backward": "backward", "sgd_step": "sgd_step"}
    tests = "".join(f"\n\ndef test_{part}(backprop_oracle, capsys):\n"
                    f"    _check(backprop_oracle, capsys, {keyword[part]}=_part({part!r}))\n" for part in config.parts)
    return f'''"""The public checks of {config.file}.py, one test per part, graded as the autograder grades it.

    python -m pytest test_{config.file}.py               # checks {config.file}.py
    python test_{config.file}.py {config.file}.ipynb      # checks the notebook instead

Each failing test says, for every net it failed on, what is wrong and the
equation that fixes it. The autograder runs these checks, and the same on other
nets. Needs ``pip install manual-backprop pytest`` (torch is not needed).
"""

import os
import sys
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NET = {net!r}


def _load():
    """Your file as a module: {config.file}.py, or {config.file}.ipynb's code cells (BACKPROP_FILE chooses)."""
    default = "{config.file}.py" if (HERE / "{config.file}.py").exists() else "{config.file}.ipynb"
    path = HERE / os.environ.get("BACKPROP_FILE", default)
    if path.suffix == ".ipynb":
        from manual_backprop.oracle.notebooks import notebook_code

        source = notebook_code(str(path))[0]
    else:
        source = path.read_text(encoding="utf-8")
    module = types.ModuleType("{config.file}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _part(name):
    function = getattr(_load(), name, None)
    if not callable(function):
        pytest.fail(f"your file defines no function {{name}}", pytrace=False)
    return function


def _check(backprop_oracle, capsys, **function):
    """Grade one part; a part not written yet fails with that one line, without its traceback."""
    try:
        backprop_oracle(**function, **NET)
    except BaseException as failure:
        printed = capsys.readouterr().out  # what the part printed, its traceback included
        if "not implemented yet" not in str(failure):
            print(printed)
        raise failure from None
{tests}

if __name__ == "__main__":
    if len(sys.argv) > 1:
        os.environ["BACKPROP_FILE"] = sys.argv[1]
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
'''
