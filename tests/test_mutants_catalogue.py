"""scripts/mutants.py's catalogue still applies: each original text occurs exactly once in its file.

(Running the mutants themselves is ``python scripts/mutants.py``, not part of the suite.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
mutants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutants)


def test_catalogue_has_at_least_twelve_distinct_mutants():
    assert len(mutants.CATALOGUE) >= 12
    assert len({m.name for m in mutants.CATALOGUE}) == len(mutants.CATALOGUE)
    assert len({(m.path, m.original, m.mutated) for m in mutants.CATALOGUE}) == len(mutants.CATALOGUE)


@pytest.mark.parametrize("mutant", mutants.CATALOGUE, ids=[m.name for m in mutants.CATALOGUE])
def test_mutation_applies_exactly_once_and_changes_the_code(mutant, tmp_path):
    text = (ROOT / mutant.path).read_text()
    assert text.count(mutant.original) == 1, f"{mutant.path}: {mutant.original!r}"
    mutants.make_copy(tmp_path, mutant)
    mutated = (tmp_path / mutant.path).read_text()
    assert mutated != text and mutant.mutated in mutated
    compile(mutated, mutant.path, "exec")  # a mutant is a bug, not a syntax error


def test_a_stale_catalogue_entry_stops_the_script(tmp_path):
    stale = mutants.Mutant("stale", "manual_backprop/layers.py", "no such text", "x")
    with pytest.raises(SystemExit, match="occurs 0 times"):
        mutants.make_copy(tmp_path, stale)
