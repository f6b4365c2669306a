"""What stands for a student's function in the grading process, and what comes back from it. NumPy only.

- ``Proxy``: called like the student's function; runs it wherever its owner
  (an ``isolation.Child``, or ``InProcess``) runs it.
- ``StudentCodeError``: the student's code failed other than by a wrong answer.
- ``expect``: holds a result to what its graded part must return
  (``graded.GRADED_PARTS``).
- ``ending``: why a child that ended did not answer, in one line.
- ``tail``: the last lines of what the student printed, made safe to print.
"""

from __future__ import annotations

import signal
from typing import Optional

from . import exchange
from .child import BROKEN_STATUS, describe_exception
from .graded import GRADED_PARTS

OUTPUT_LINES, OUTPUT_CHARS = 40, 4000


class StudentCodeError(Exception):
    """The student's code failed other than by a wrong answer; ``str`` is a one-line reason."""


def role_of(name: str, role: Optional[str] = None) -> str:
    """How a function called ``name`` is graded: ``role``, else its name if graded, else as backward."""
    return role or (name if name in GRADED_PARTS else "backward")


class InProcess:
    """Where ``os.fork`` is missing: the same interface as Child, the functions run in this process.

    Every exception (SystemExit, KeyboardInterrupt, pytest's outcomes included)
    becomes a StudentCodeError and results are copied to plain arrays, but there
    is no timeout, no memory limit, and an ``os._exit`` ends this process.
    """

    def __init__(self, functions: dict):
        self.functions = functions

    def proxy(self, name: str, role: Optional[str] = None):
        return Proxy(self, name, role_of(name, role))

    def call(self, name: str, args: tuple, role: str = "backward"):
        try:
            description, arrays = exchange.pack(self.functions[name](*args), prefix="r")
        except BaseException as exc:
            raise StudentCodeError(f"{describe_exception(exc)['reason']} (in {name})") from None
        return expect(exchange.unpack(description, arrays, prefix="r"), role, description, name)

    def finish(self) -> None:
        pass

    def kill(self) -> None:
        pass

    def output(self) -> str:
        return ""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Proxy:
    """Stands for one student function: calling it runs that function in the child."""

    def __init__(self, child, name: str, role: str):
        self.child, self.__name__, self.role = child, name, role

    def __call__(self, *args):
        return self.child.call(self.__name__, args, self.role)

    def __repr__(self):
        return f"<{self.__name__} of a student, run in a child process>"


def expect(value, role: str, description, name: str):
    """``value`` if it is the kind ``role`` must return (a 1-element array counts as a number)."""
    import numpy as np

    part = GRADED_PARTS[role]
    returns = part.returns
    if returns == "dict" and isinstance(value, dict):
        return value
    if returns == "float":
        if isinstance(value, float):
            return value
        if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
            return float(value.reshape(()))
    if returns == "array" and isinstance(value, (np.ndarray, float)):
        return np.asarray(value)
    raise StudentCodeError(f"{name} returned {exchange.type_name(description)}; "
                           f"it must return {part.must_return}")


def ending(ended: dict, when: str, memory_mb=None) -> str:
    """The one-line reason for a child that ended (``ended``: the supervisor's report, or
    ``{"killed_parent": return code}`` when the supervisor itself was killed)."""
    if "exit" in ended:
        broken = " (the status of a child whose own code failed: a module it uses patched?)"
        return f"exited with status {ended['exit']} {when}" + (broken if ended["exit"] == BROKEN_STATUS else "")
    if "signal" in ended:
        reason = f"killed by signal {signal_name(ended['signal'])} {when}"
        if memory_mb and ended["signal"] in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            reason += f" (perhaps out of memory, limit {memory_mb} MB)"
        return reason
    code = ended["killed_parent"]
    if code is not None and code >= 0:
        return f"its parent process (the grader's supervisor) ended with status {code} without a report {when}"
    how = f"by signal {signal_name(-code)}" if code is not None else "unexpectedly"
    return f"its parent process (the grader's supervisor) was killed {how} {when}"


def signal_name(number) -> str:
    try:
        return signal.Signals(number).name
    except (ValueError, TypeError):
        return f"number {number}"


def sanitize(text: str) -> str:
    """``text`` with control characters (terminal escapes, carriage returns) shown escaped."""
    return "".join(c if c in "\n\t" or c.isprintable() else repr(c)[1:-1] for c in text)


def tail(text: str, cut: bool = False) -> str:
    """The last OUTPUT_LINES lines and OUTPUT_CHARS characters of ``text``, printable."""
    lines = text.splitlines()
    if len(lines) > OUTPUT_LINES:
        lines, cut = lines[-OUTPUT_LINES:], True
    out = sanitize("\n".join(lines))
    if len(out) > OUTPUT_CHARS:
        out, cut = out[-OUTPUT_CHARS:], True
    return ("[… earlier output cut]\n" + out) if cut else out
