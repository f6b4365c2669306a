"""The documentation says what the code does: its tables are rendered from the code, never typed.

The site's tables of activations, losses and diagnosis codes come from the
registries (``ACTIVATIONS``, ``LOSSES``) and ``manual_backprop/oracle/codes.py``
through ``docs/hooks.py``. These tests hold the pages to that: each table is
asked for by one page and typed by none; every code the oracle can emit, read
from the oracle's own source, has a meaning in ``CODES``; and the built site
shows exactly the rendered tables (that test needs the ``docs`` extra).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import manual_backprop.oracle
from helpers.grading import ROOT
from manual_backprop import ACTIVATIONS, LOSSES
from manual_backprop.oracle import codes, diagnosis, parts

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
HOME = ROOT / "README.md"


def _load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None, "docs/hooks.py is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# Where each generated table belongs, and the names it must show.
EXPECTED = {
    "activations": ("model.md", list(ACTIVATIONS)),
    "losses": ("model.md", list(LOSSES)),
    "codes": ("oracle.md", list(codes.CODES)),
}


def test_every_table_is_generated_once_on_its_page():
    assert set(hooks.TABLES) == set(EXPECTED)
    asked = {}
    for page in PAGES:
        for name in hooks.MARKER.findall(page.read_text(encoding="utf-8")):
            asked.setdefault(name, []).append(page.name)
    assert asked == {name: [page] for name, (page, _) in EXPECTED.items()}


def test_the_rendered_pages_show_every_registry_entry_and_code():
    for name, (page, entries) in EXPECTED.items():
        rendered = hooks.expand(_page(page))
        first_cells = [row[0].split()[0].strip("`") for row in _markdown_tables(rendered).get(name, [])[1:]]
        assert first_cells == entries, f"{page}: the {name} table's rows are not the registry's, in its order"


def test_an_unknown_table_name_is_an_error_not_an_empty_page():
    with pytest.raises(ValueError, match="no_such_table"):
        hooks.expand("text\n<!-- generated: no_such_table -->\n")


def test_no_page_types_a_row_of_a_generated_table():
    """A row keyed by an activation, a loss or a code is the generated table's, not typed beside it."""
    keys = {f"`{k}`" for k in [*ACTIVATIONS, *LOSSES, *codes.CODES]}
    for page in [HOME, *PAGES]:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("|"):
                first = line.strip("|").split("|")[0].strip().split(" ")[0]
                assert first not in keys, f"{page.name}:{number} types a row of a generated table: {line}"


def test_codes_py_keeps_one_entry_per_line():
    """Others add codes to the dict; its format stays one `"code": "meaning",` line per entry."""
    source = inspect.getsource(codes)
    body = source[source.index("CODES: dict[str, str] = {\n"):]
    entries = re.findall(r'^    "([^"\n]+)": "([^"\n]+)",$', body, re.MULTILINE)
    assert dict(entries) == codes.CODES and len(entries) == len(codes.CODES)
    for code, meaning in codes.CODES.items():
        assert re.fullmatch(r"[a-z][A-Za-z0-9_/<>]*", code) and "+" not in code, code
        sentence = (meaning[0].isupper() or meaning[0].isdigit()) and meaning.endswith(".")
        assert sentence, f"{code}: one sentence, please: {meaning!r}"


# --- every code the oracle can emit, read from its own source -------------------------------------

CODE_FIELDS = {"code", "diagnosis", "kind"}  # the parameters a code is passed as
CODE_KEYS = {"code", "diagnosis"}  # the keys it is stored under in a dict (the messages' "kind" is another thing)


AUTOGRADER = "torch_ref.course.autograder"  # grades each part on its own, with codes of its own


def _oracle_modules():
    for info in pkgutil.iter_modules(manual_backprop.oracle.__path__):
        if info.name != "codes":
            yield importlib.import_module(f"manual_backprop.oracle.{info.name}")
    yield importlib.import_module(AUTOGRADER)


def _parameter_names(callee) -> list[str]:
    try:
        return list(inspect.signature(callee).parameters)
    except (TypeError, ValueError):
        return []


def _code_arguments(module):
    """The expressions passed as a code: to a parameter named in CODE_FIELDS (by position, resolved
    through the callee's signature, or by keyword), or under a key of CODE_KEYS in a dict display."""
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and hasattr(module, node.func.id):
                names = _parameter_names(getattr(module, node.func.id))
                yield from (arg for name, arg in zip(names, node.args) if name in CODE_FIELDS)
            yield from (kw.value for kw in node.keywords if kw.arg in CODE_FIELDS)
        elif isinstance(node, ast.Dict):
            yield from (v for k, v in zip(node.keys, node.values)
                        if isinstance(k, ast.Constant) and k.value in CODE_KEYS)


def _pattern(expr) -> str | None:
    """A regular expression for the codes an expression can be: a literal, or an f-string's shape."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return re.escape(expr.value)
    if isinstance(expr, ast.JoinedStr):
        return "".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in expr.values)
    return None  # a variable: its values come from the registries read below


def emitted_codes() -> tuple[set[str], set[str]]:
    """(codes, patterns): the literal causes the oracle names, and the shapes of those it builds."""
    literal, patterns = set(), set()
    for module in _oracle_modules():
        for expr in _code_arguments(module):
            pattern = _pattern(expr)
            if pattern is None:
                continue
            if isinstance(expr, ast.Constant):
                literal.update(c for c in expr.value.split("+") if c)
            else:
                patterns.add(pattern)
    literal.update(getattr(diagnosis, "CODES", ()))  # the causes a reading is built from
    literal.update(c for code in parts.SGD_STEPS for c in code.split("+") if c)  # the SGD step's readings
    return literal, patterns


def test_the_source_scan_finds_codes_of_every_kind():
    """The scan is only as good as what it finds: a code passed each way the oracle passes one."""
    literal, _ = emitted_codes()
    ways = {"missing": "Diagnosis(code)", "wrong_gradients": "PartResult(name, passed, diagnosis)",
            "not_returned": "_failed(name, code, ...)", "bias_missing": "ForwardMistake(label, code, ...)",
            "unexpected_key": '{"diagnosis": ...}', "forward_mistake": "diagnosis.CODES",
            "lr_missing": "parts.SGD_STEPS", "not_defined": "the autograder's _failed_everywhere(part, cases, code, ...)",
            "not_graded": "the autograder's PartResult(part, passed, diagnosis)"}
    assert [f"{code} ({way})" for code, way in ways.items() if code not in literal] == []


def test_every_code_the_oracle_emits_has_a_meaning():
    literal, patterns = emitted_codes()
    assert sorted(literal - set(codes.CODES)) == [], "codes emitted without a meaning in oracle/codes.py"
    for pattern in patterns:
        assert any(re.fullmatch(pattern, code) for code in codes.CODES), (
            f"a code built as /{pattern}/ has no entry such as 'name_<what>' in oracle/codes.py")


def _source_strings(module) -> set[str]:
    """Every string literal of a module outside its docstrings, and each +-joined part of one."""
    tree = ast.parse(inspect.getsource(module))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out.add(node.value)
            out.update(node.value.split("+"))
    return out


def test_every_documented_code_is_spelled_in_the_oracle():
    """No meaning for a code nothing emits: each is a literal of the oracle's code (a template
    such as ``swapped_with_<name>``: the literal its f-string starts with)."""
    strings = set().union(*(_source_strings(m) for m in _oracle_modules()))
    for code in codes.CODES:
        spelled = code.split("<")[0] if "<" in code else code
        assert spelled in strings, f"{code!r} is in oracle/codes.py but no oracle module spells it"


# --- the built site ---------------------------------------------------------------------------------

class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _markdown_tables(markdown: str) -> dict[str, list[list[str]]]:
    """The generated tables of a rendered page, by name, as rows of cell texts (as the HTML shows them)."""
    out = {}
    for name, render in hooks.TABLES.items():
        rendered = render()
        if rendered in markdown:
            rows = [line.strip("|").split(" | ") for line in rendered.splitlines()]
            out[name] = [[" ".join(c.replace("\\|", "|").replace("`", "").split()) for c in row]
                         for i, row in enumerate(rows) if i != 1]  # the separator row is no row
    return out


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                    reason='building the site needs the docs extra: pip install -e ".[docs]"')
def test_the_built_site_shows_exactly_the_rendered_tables(tmp_path):
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    for name, (page, _) in EXPECTED.items():
        html = (site / Path(page).stem / "index.html").read_text(encoding="utf-8")
        parser = _Tables()
        parser.feed(html)
        expected = _markdown_tables(hooks.expand(_page(page)))[name]
        assert expected in parser.tables, f"{page}: the built page does not show the {name} table as rendered"
