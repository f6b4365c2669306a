"""scripts/mutants.py's catalogue still applies: each original text occurs exactly once in its function's code.

(Running the mutants themselves is ``python scripts/mutants.py``, not part of the suite.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
mutants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutants)


def test_catalogue_has_at_least_twelve_distinct_mutants():
    assert len(mutants.CATALOGUE) >= 12
    assert len({m.name for m in mutants.CATALOGUE}) == len(mutants.CATALOGUE)
    assert len({(m.path, m.function, m.original, m.mutated) for m in mutants.CATALOGUE}) == len(mutants.CATALOGUE)


@pytest.mark.parametrize("mutant", mutants.CATALOGUE, ids=[m.name for m in mutants.CATALOGUE])
def test_mutation_applies_exactly_once_and_changes_the_code(mutant, tmp_path):
    text = (ROOT / mutant.path).read_text()
    mutants.make_copy(tmp_path, mutant)
    mutated = (tmp_path / mutant.path).read_text()
    assert mutated != text and mutant.mutated in mutated
    assert len(mutated) - len(text) == len(mutant.mutated) - len(mutant.original), "one edit, no more"
    compile(mutated, mutant.path, "exec")  # a mutant is a bug, not a syntax error


@pytest.mark.parametrize("edit,message", [
    pytest.param(lambda m: m._replace(original="no such text"), "occurs 0 times", id="text-gone"),
    pytest.param(lambda m: m._replace(function="no_such_function"), "no function 'no_such_function'",
                 id="function-gone"),
])
def test_a_stale_catalogue_entry_stops_the_script(tmp_path, edit, message):
    with pytest.raises(SystemExit, match=message):
        mutants.make_copy(tmp_path, edit(mutants.CATALOGUE[0]))


def test_docstrings_and_comments_do_not_count():
    """The original text is looked for in the function's code only: a docstring or comment holding it is no site."""
    source = ('def f(O, Y):\n    """return O - Y, as the seed says."""\n'
              '    d = O - Y  # return O - Y\n    return O - Y\n')
    mutant = mutants.Mutant("sign", "x.py", "f", "return O - Y", "return Y - O")
    mutated = mutants.mutate(source, mutant)
    assert mutated == source.replace("    return O - Y\n", "    return Y - O\n"), mutated
    twice = source.replace("d = O - Y", "d = 0; return O - Y")
    with pytest.raises(SystemExit, match="occurs 2 times"):  # two sites in the code: ambiguous
        mutants.mutate(twice, mutant)
