"""The site's tables that mirror the code, rendered from it when MkDocs builds the pages.

A page asks for a table with a line of its own, ``<!-- generated: NAME -->``,
NAME one of ``TABLES``: the activations and losses from their registries
(``manual_backprop.ACTIVATIONS``, ``LOSSES``) and the diagnosis codes from
``manual_backprop.oracle.codes.CODES``. ``mkdocs.yml`` loads this file as a hook;
``tests/docs/test_docs_match_code.py`` holds the pages and the built site to it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence

from manual_backprop import ACTIVATIONS, LOSSES, MLP
from manual_backprop.oracle.codes import CODES

MARKER = re.compile(r"^<!-- generated: (\S+) -->$", re.MULTILINE)


def _first_line(function: Callable) -> str:
    return (inspect.getdoc(function) or "").splitlines()[0]


def _defaults() -> dict[str, str]:
    """MLP's default for each keyword (activation, output_activation, loss), read from its signature."""
    return {name: p.default for name, p in inspect.signature(MLP).parameters.items()
            if isinstance(p.default, str)}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header))] + [line(r) for r in rows])


def activation_table() -> str:
    """One row per registry activation: f(Z), f′ as the code computes it, and its backward's own words."""
    defaults = _defaults()
    rows = []
    for a in ACTIVATIONS.values():
        default = [f"the {layer} default" for layer, k in (("hidden", "activation"), ("output", "output_activation"))
                   if defaults.get(k) == a.name]
        rows.append([f"`{a.name}`" + (f" ({', '.join(default)})" if default else ""),
                     a.formula.format(Z="Z"), a.derivative_text(Z="Z", A="A"), _first_line(a.backward)])
    return _table(["name", "f(Z)", "f′ as computed", "the backward"], rows)


def loss_table() -> str:
    """One row per registry loss: L, the targets it takes, dL/dO, and its value's own words."""
    default = _defaults().get("loss")
    targets = {"dense": "(D_O, N), like O", "class_index": "(N,) class indices"}
    rows = [[f"`{loss.name}`" + (" (the default)" if loss.name == default else ""),
             loss.formula.format(D_O="D_O", N="N"), targets[loss.targets],
             loss.gradient.format(D_O="D_O", N="N"), _first_line(loss.forward)]
            for loss in LOSSES.values()]
    return _table(["name", "L", "targets Y", "dL/dO", "the loss"], rows)


def code_table() -> str:
    """One row per diagnosis code, in the order of ``CODES``."""
    return _table(["code", "meaning"], [[f"`{code}`", meaning] for code, meaning in CODES.items()])


TABLES: dict[str, Callable[[], str]] = {
    "activations": activation_table,
    "losses": loss_table,
    "codes": code_table,
}


def expand(markdown: str) -> str:
    """The page with each marker line replaced by its table; an unknown name is a ValueError."""
    def table(match: re.Match) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"unknown generated table {name!r}; known: {', '.join(TABLES)}")
        return TABLES[name]()
    return MARKER.sub(table, markdown)


def on_page_markdown(markdown: str, **kwargs) -> str:
    """MkDocs' hook: every page's Markdown, before it is converted to HTML."""
    return expand(markdown)
