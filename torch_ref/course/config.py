"""The autograder's one config file, ``config.json``: what is graded, for how many points, under which limits.

    config = Config(parts=("forward", "backward"), seed=20261206, activation="tanh")
    config.save(Path("autograder/config.json"))
    config = Config.load(Path("/autograder/source/config.json"))

Fields (all in the file, written in full by ``assignment new``):

- ``file``: the name students submit, without its suffix (``backprop``: the
  autograder takes ``backprop.py`` or ``backprop.ipynb``);
- ``parts``: the graded parts, in the seed's order; ``points``: each part's points;
- ``seed``: the hidden cases' seed (never written to the student's folder);
- ``activation``, ``loss``: the net (the seed's ``sigmoid`` and ``half_sse`` unless a variant);
- ``reference``: ``finite_differences`` (no torch in the image) or ``autograd``;
- ``timeout`` (seconds per submission), ``memory`` (MB per child; 0: none),
  ``forbid`` (modules a submission may not import, beyond the reference's own),
  ``user`` (who student code runs as where the autograder runs as root, and
  ``setup.sh`` creates: ``DEFAULT_USER`` unless changed; empty: the grader's own
  user, root on Gradescope, which can read this file and its seed);
- ``visibility``: Gradescope's visibility of the public and of the hidden cases' tests.

A bad value is a ValueError naming the field, what it takes and what it got.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Optional

from manual_backprop.activations import get_activation
from manual_backprop.losses import get_loss
from manual_backprop.oracle.graded import GRADED_PARTS

PARTS = tuple(GRADED_PARTS)  # forward, loss, backward, sgd_step: the seed's order
DEFAULT_POINTS = {"forward": 2.0, "loss": 1.0, "backward": 6.0, "sgd_step": 1.0}
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")  # Gradescope's words
REFERENCES = ("finite_differences", "autograd")
DEFAULT_USER = "student"  # unprivileged, so that student code cannot read the config and its hidden seed
FORMAT = 1  # the file's own version, for autograders made by later versions of this kit


@dataclasses.dataclass(frozen=True)
class Config:
    """One assignment's grading policy; see the module docstring for each field."""

    parts: tuple = PARTS
    points: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_POINTS))
    seed: Optional[int] = None
    activation: str = "sigmoid"
    loss: str = "half_sse"
    file: str = "backprop"
    reference: str = "finite_differences"
    timeout: float = 60.0
    memory: int = 1024
    forbid: tuple = ()
    user: str = DEFAULT_USER
    visibility: dict = dataclasses.field(default_factory=lambda: {"public": "visible",
                                                                  "hidden": "after_published"})

    def __post_init__(self):
        check(self)

    @property
    def max_score(self) -> float:
        return float(sum(self.points[p] for p in self.parts))

    def as_json(self) -> dict:
        doc = dataclasses.asdict(self)
        doc["parts"], doc["forbid"] = list(self.parts), list(self.forbid)
        doc["points"] = {p: self.points[p] for p in self.parts}
        return {"format": FORMAT, **doc}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Config":
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: the config must be a JSON object; got {type(doc).__name__}")
        if doc.pop("format", FORMAT) != FORMAT:
            raise ValueError(f"{path}: config format {doc.get('format')!r}; this version reads format {FORMAT}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config fields {unknown}; known: {sorted(known)}")
        for name in ("parts", "forbid"):
            if isinstance(doc.get(name), list):
                doc[name] = tuple(doc[name])
        return cls(**doc)


def check(c: Config) -> None:
    """ValueError/TypeError naming the first field that is wrong."""
    if not c.parts or not isinstance(c.parts, tuple) or any(p not in PARTS for p in c.parts) \
            or len(set(c.parts)) != len(c.parts):
        raise ValueError(f"parts must be some of {list(PARTS)}, each once; got {c.parts!r}")
    if not isinstance(c.points, dict) or any(p not in c.points for p in c.parts):
        raise ValueError(f"points must give every graded part {list(c.parts)} its points; got {c.points!r}")
    for part in c.parts:
        value = c.points[part]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"points for {part} must be a number ≥ 0; got {value!r}")
    if c.max_score <= 0:
        raise ValueError(f"points must add up to more than 0; got {c.points!r}")
    if c.seed is not None and (isinstance(c.seed, bool) or not isinstance(c.seed, int) or c.seed < 0):
        raise ValueError(f"seed must be an int ≥ 0 (the hidden cases' seed) or None; got {c.seed!r}")
    get_activation(c.activation)
    get_loss(c.loss)
    if not isinstance(c.file, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c.file):
        raise ValueError(f"file must be a Python module name such as 'backprop'; got {c.file!r}")
    if c.reference not in REFERENCES:
        raise ValueError(f"reference must be one of {list(REFERENCES)}; got {c.reference!r}")
    if isinstance(c.timeout, bool) or not isinstance(c.timeout, (int, float)) or not c.timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0; got {c.timeout!r}")
    if isinstance(c.memory, bool) or not isinstance(c.memory, int) or c.memory < 0:
        raise ValueError(f"memory must be an int of MB ≥ 0 (0: no limit); got {c.memory!r}")
    if not isinstance(c.forbid, tuple) or any(not isinstance(m, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", m)
                                              for m in c.forbid):
        raise ValueError(f"forbid must be module names such as ['torch', 'jax']; got {c.forbid!r}")
    if not isinstance(c.user, str) or (c.user and not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", c.user)):
        raise ValueError(f"user must be a user name such as 'student' (or empty: the grader's user); got {c.user!r}")
    if not isinstance(c.visibility, dict) or set(c.visibility) != {"public", "hidden"} \
            or any(v not in VISIBILITIES for v in c.visibility.values()):
        raise ValueError(f"visibility must map 'public' and 'hidden' to one of {list(VISIBILITIES)}; "
                         f"got {c.visibility!r}")
