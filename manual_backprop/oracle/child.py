"""The child side of isolated grading: runs a student's functions and sends back plain arrays. NumPy only.

Two processes stand between the grader and the student's code:

- the **supervisor** (started by the grader: a fresh ``python -I`` running
  ``main``, or a fork of the pytest process running ``run_forked``) sets the
  limits, forks the worker, waits for it, and writes how it ended (exit status
  or signal) on the status pipe. A student that kills its parent kills this
  process, not the grader, and the grader sees it.
- the **worker** loads the submission (a ``.py`` file or a notebook's code
  cells, with its folder on ``sys.path``), says which of the graded functions
  (``graded.GRADED_PARTS``) it defines, then answers requests: each is a
  function name and its arguments, each answer the result packed by
  ``exchange.pack`` or the one-line description of what the student's code
  raised.

Neither imports torch or anything of the grader's that decides a verdict:
the spawned child loads this module, ``exchange``, ``graded`` and
``containment`` only (``isolation.BOOT``), and the worker removes even those
from ``sys.modules`` and refuses imports of the grader's packages before the
student's code runs (``containment``). The supervisor is a subreaper: once
the worker has ended it kills whatever the submission left running, and
says how many there were.
Both always end with ``os._exit``, so a forked copy of pytest never goes on
running the session.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import sys
import time
import traceback
import types

from . import containment, exchange
from .graded import GRADED_PARTS

QUIT_STATUS = 0  # the worker's exit status after the grader says it is done
FILE_LIMIT_MB = 64  # a write beyond it fails (Python ignores SIGXFSZ): printing forever cannot fill the disk
BROKEN_STATUS = 72  # the worker's exit status when its own code failed (the student patched it?)
TRUSTED_BUILTINS = vars(builtins).copy()  # before any student code runs
_student_builtins: dict[str, object] = {}  # builtins as the student's code last left them
PYTEST_OUTCOMES = {"Skipped": "skip", "Exit": "exit", "Failed": "fail", "XFailed": "xfail"}


def main(config_json: str) -> None:
    """Entry of ``python -I -u -c`` (see ``isolation``): the supervisor of one submission."""
    config = json.loads(config_json)
    req, rep, status = config["fds"]
    set_limits(config.get("memory_mb"))
    contain = Containment(config.get("user"), config.get("forbid", containment.REFERENCE))
    supervise(status, (req, rep), lambda: serve_file(config["path"], config["function"], req, rep, contain,
                                                     config.get("folder")))


class Containment:
    """What the worker does before any student code runs: drop to ``user`` (a ``student_user``
    triple, or None) and refuse the modules ``forbid``."""

    def __init__(self, user=None, forbid=containment.REFERENCE):
        self.user, self.forbid = (tuple(user) if user else None), tuple(forbid)

    def enter(self) -> None:
        """Whatever may import runs before the change of user, who may not read the standard library
        (a Python under /root): Python 3.13's invalidate_caches, in forbid_imports, imports
        importlib.metadata. die_with_parent comes after it, as a change of user clears it."""
        if self.user is not None:
            send_warm_up()
        containment.forbid_imports(self.forbid)
        if self.user is not None:
            containment.drop_to(self.user)
        containment.die_with_parent()


def send_warm_up() -> None:
    """Encode and decode a message once, so that what ``exchange`` imports on first use is loaded
    while the files are still readable (before dropping to a user who may not read them)."""
    import numpy as np

    exchange.decode(*_parts(exchange.encode({"ok": True}, {"a": np.zeros(1)})))


def _parts(frame: bytes) -> tuple:
    meta_len, _ = exchange.frame_length(frame[:exchange.HEADER.size])
    start = exchange.HEADER.size
    return frame[start:start + meta_len], frame[start + meta_len:]


def run_forked(functions: dict, fds: tuple, log_fd: int, memory_mb=None, contain=None) -> None:
    """In a fresh fork of the caller: become the supervisor of a worker serving ``functions``
    (``contain``: a ``Containment``; default: the grader's packages refused)."""
    try:
        os.setsid()
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.stdout = sys.stderr = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), errors="replace",
                                                   write_through=True)
        req, rep, status = fds
        set_limits(memory_mb)
        contain = contain or Containment()

        def work():
            contain.enter()
            serve(functions, req, rep)

        supervise(status, (req, rep), work)
    finally:
        os._exit(70)  # reached only when the supervisor itself failed


def set_limits(memory_mb) -> None:
    """No core files; no file (printed output included) over FILE_LIMIT_MB; at most ``memory_mb`` MB
    of address space (counting what is already mapped)."""
    import resource

    def lower(which, value: int) -> None:  # never above a limit already in force
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    lower(resource.RLIMIT_CORE, 0)
    lower(resource.RLIMIT_FSIZE, FILE_LIMIT_MB << 20)
    if memory_mb:
        lower(resource.RLIMIT_AS, int(memory_mb) << 20)


def supervise(status_fd: int, worker_fds: tuple, work) -> None:
    """Fork the worker to run ``work()`` in a process group of its own; report its pid, then how it
    ended and how many processes it left (all killed), on ``status_fd``, one JSON line each; never
    return."""
    containment.become_subreaper()
    pid = quiet_fork()
    if pid == 0:
        code = 71
        try:
            os.close(status_fd)
            deadline = time.monotonic() + 10
            while os.getpgrp() != os.getpid() and time.monotonic() < deadline:
                time.sleep(0.0005)  # the supervisor moves it once the grader can know its pid
            work()
            code = QUIT_STATUS
        except BaseException:  # only the worker's own machinery gets here; student errors are answers
            code = BROKEN_STATUS
        finally:
            os._exit(code)
    try:
        for fd in worker_fds:
            os.close(fd)
        os.write(status_fd, json.dumps({"worker": pid}).encode() + b"\n")
        try:
            os.setpgid(pid, pid)
        except OSError:  # it has already ended (killed by the grader): its status says how
            pass
        _, wait_status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(wait_status):
            ended = {"signal": os.WTERMSIG(wait_status)}
        else:
            ended = {"exit": os.WEXITSTATUS(wait_status)}
        ended["left"] = containment.sweep(pid)
        os.write(status_fd, json.dumps(ended).encode() + b"\n")
    finally:
        os._exit(0)


def quiet_fork() -> int:
    """``os.fork()`` without Python 3.12+'s DeprecationWarning about forking a process with threads
    (an error where warnings are errors): the fork runs only a student's function and this module,
    and leaves with ``os._exit``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def serve_file(path: str, function: str, req: int, rep: int, contain=None, folder=None) -> None:
    """Load the submission at ``path`` (``folder``: the one to put on sys.path, default its own),
    contained by ``contain`` (a ``Containment``; None: not at all, for a file the caller trusts),
    say what it defines, then serve calls to its functions."""
    try:
        source = read_source(path)
        if contain is not None:
            contain.enter()
        module = as_student(lambda: load(path, source, folder))
    except BaseException as exc:
        _report_traceback(exc)
        send(rep, {"ok": False, **describe_exception(exc)})
        return
    wanted = dict.fromkeys((*GRADED_PARTS, function))
    functions = {name: getattr(module, name) for name in wanted
                 if callable(getattr(module, name, None))}
    own = sorted(n for n, v in vars(module).items() if not n.startswith("_") and callable(v)
                 and getattr(v, "__module__", None) == module.__name__)
    send(rep, {"ok": True, "defines": sorted(functions), "functions": own})
    serve(functions, req, rep)


def read_source(path: str) -> str:
    """The submission's Python source: the file, or a notebook's code cells (notes printed)."""
    if path.endswith(".ipynb"):
        from .notebooks import notebook_code

        source, notes = notebook_code(path)
        for note in notes:
            print(f"note: {note}")
        return source
    with open(path, encoding="utf-8") as f:
        return f.read()


def load(path: str, source=None, folder=None) -> types.ModuleType:
    """Run the submission's code (``source``, default read from ``path``) as the module
    ``submission``, ``folder`` (default: the file's) first on sys.path."""
    if source is None:
        source = read_source(path)
    sys.path.insert(0, folder or os.path.dirname(os.path.abspath(path)))
    module = types.ModuleType("submission")
    if not path.endswith(".ipynb"):
        module.__file__ = os.path.abspath(path)
    sys.modules["submission"] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def as_student(run):
    """``run()`` with the builtins as the student's code left them; the child's own code, before and
    after, sees the builtins as they were before any student code ran (patching them changes
    only what the student's own code sees)."""
    namespace = vars(builtins)
    if _student_builtins:
        namespace.clear()
        namespace.update(_student_builtins)
    try:
        return run()
    finally:
        _student_builtins.clear()
        _student_builtins.update(namespace)
        namespace.clear()
        namespace.update(TRUSTED_BUILTINS)


def serve(functions: dict, req: int, rep: int) -> None:
    """Answer ``call`` requests until ``quit`` (or the grader closes the pipe)."""
    while True:
        message = receive(req)
        if message is None or message[0].get("op") == "quit":
            return
        meta, arrays = message
        send(rep, *call(functions, meta, arrays))


def call(functions: dict, meta: dict, arrays: dict) -> tuple:
    """Run one requested function on its unpacked arguments; (reply meta, reply arrays)."""
    name = meta.get("function")
    if name not in functions:
        return {"ok": False, "reason": f"defines no function {name!r}"}, {}
    args = [exchange.unpack(d, arrays, prefix=f"a{i}.") for i, d in enumerate(meta.get("args", []))]
    try:
        result = as_student(lambda: functions[name](*args))
        description, out = exchange.pack(result, prefix="r")
    except BaseException as exc:
        _report_traceback(exc)
        return {"ok": False, **describe_exception(exc)}, {}
    return {"ok": True, "result": description}, out


def describe_exception(exc: BaseException) -> dict:
    """The one-line reason for an exception out of student code, and its type's name."""
    name = type(exc).__name__
    try:
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    except BaseException:
        message = "(its message cannot be printed)"
    if isinstance(exc, SystemExit):
        reason = f"called sys.exit({exc.code!r}) (raised SystemExit)"
    elif name in PYTEST_OUTCOMES and any(c.__module__.startswith("_pytest") for c in type(exc).__mro__):
        reason = f"called pytest.{PYTEST_OUTCOMES[name]}({message!r})"
    else:
        reason = f"raised {name}" + (f": {message}" if message else "")
    return {"reason": reason, "error_type": name, "memory": isinstance(exc, MemoryError)}


def _report_traceback(exc: BaseException) -> None:
    try:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    except BaseException:
        pass


def send(fd: int, meta: dict, arrays: dict | None = None) -> None:
    """Write one message on ``fd`` (blocking)."""
    data = memoryview(exchange.encode(meta, arrays))
    while data:
        data = data[os.write(fd, data):]


def receive(fd: int):
    """Read one message from ``fd`` (blocking): (meta, arrays), or None at end of file."""
    header = _read_exactly(fd, exchange.HEADER.size)
    if header is None:
        return None
    meta_len, data_len = exchange.frame_length(header)
    return exchange.decode(_read_exactly(fd, meta_len) or b"", _read_exactly(fd, data_len) or b"")


def _read_exactly(fd: int, n: int):
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
