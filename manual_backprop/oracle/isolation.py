"""The grader's side of isolated grading: a student's functions as proxies that run in a child. NumPy only.

    with Child.spawn("solution.py", "backward", Limits(timeout=60, memory_mb=1024)) as child:
        loaded = child.loaded()                 # which graded functions the file defines
        backward = child.proxy("backward")      # call it like the student's function
        results = grade(backward)               # grade() runs unchanged; verdicts stay here
        child.finish()

``Child.fork(functions, limits)`` does the same for function objects the caller
already holds (the pytest fixture), from a fork of the calling process.
Both take ``forbid=`` (module names refused to the student's code besides the
grader's own packages) and ``user=`` (a user to run it as, when this process
is root): see ``containment``.

A proxy sends its arguments (dicts of arrays, arrays, floats) to the child
(``child.py``), which runs the student's function, and returns plain NumPy
results read without unpickling (``exchange.py``). Anything else the child
does (time out, exit with any status, die by a signal, run out of memory,
raise, return the wrong kind of value, kill its parent, leave processes
running) is a ``StudentCodeError`` whose ``str`` is one line. Time counts only
while the grader waits for the child; on timeout the worker's process group
is killed and the supervisor kills what left it. What the student printed is
kept in a file (a pipe would deadlock on a chatty solution) and ``output()``
returns its tail.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from . import containment, exchange
from .child import Containment, quiet_fork, run_forked
from .graded import GRADED_PARTS
from .proxies import OUTPUT_CHARS, Proxy, StudentCodeError, ending, expect, role_of, sanitize, tail

ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the manual_backprop package
# The spawned child's first code: empty stand-ins for the two packages (their __init__ would load the
# reference), so that importing child loads SERVING, and nothing else of ours.
BOOT = ("import sys, types, os\n"
        "for name in ('manual_backprop', 'manual_backprop.oracle'):\n"
        "    package = sys.modules[name] = types.ModuleType(name)\n"
        "    package.__path__ = [os.path.join(sys.argv[1], *name.split('.'))]\n"
        "from manual_backprop.oracle.child import main\n"
        "main(sys.argv[2])\n")
SERVING = ("manual_backprop", "manual_backprop.oracle", "manual_backprop.oracle.child",
           "manual_backprop.oracle.containment", "manual_backprop.oracle.exchange",
           "manual_backprop.oracle.graded")
GRACE_SECONDS = 5.0  # how long the supervisor has to sweep and end once the worker is killed
_spawning = threading.Lock()  # held while a supervisor starts, so that no sweep takes it for a stray
_supervisors: set = set()  # the pids of the supervisors this process has started and not reaped
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# What a child run as another user inherits of this process's environment (no tokens, no paths of
# the grader's configuration): the locale, the path, and the settings above.
SAFE_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "MPLBACKEND") + THREAD_VARIABLES


@dataclass(frozen=True)
class Limits:
    """Per submission: seconds of waiting for the child, and its address space in MB (None: none)."""

    timeout: float = 60.0
    memory_mb: Optional[int] = None


DEFAULT_LIMITS = Limits()  # frozen: one shared default is safe


class Child:
    """One supervisor + worker pair serving one submission's functions."""

    def __init__(self, limits: Limits, workdir: str, fds: tuple, label: str):
        self.limits, self.workdir, self.label = limits, workdir, label
        self.req, self.rep, self.status = fds
        self.pid: Optional[int] = None  # set by spawn or fork, right after construction
        self.worker: Optional[int] = None  # the worker's pid (its process group), once the supervisor says
        self.status_buffer = b""
        self.proc: Optional[subprocess.Popen[bytes]] = None  # a spawned child's supervisor
        self.returncode: Optional[int] = None
        self.spent, self.frames, self.rep_open = 0.0, exchange.Frames(), True
        self.ended: Optional[dict] = None  # the supervisor's report once it has ended
        for fd in fds:
            os.set_blocking(fd, False)

    @classmethod
    def spawn(cls, path, function: str = "backward", limits: Limits = DEFAULT_LIMITS, *,
              forbid=(), user: Optional[str] = None) -> "Child":
        """A fresh ``python -I`` child (no torch) that runs the ``.py`` or ``.ipynb`` at ``path``.

        forbid: module names the student's code may not import, besides the grader's packages
        (always refused). user: run the student's code as this user (this process must be root);
        the file is then graded from a copy in a folder of that user's. ValueError for either
        when it cannot be done, before anything starts.
        """
        names, identity = containment.forbidden_names(forbid), containment.student_user(user)
        workdir = tempfile.mkdtemp(prefix="grade-")
        config = {"path": str(path), "function": function, "memory_mb": limits.memory_mb,
                  "forbid": list(names), "user": identity}
        env = dict(os.environ, MPLBACKEND="Agg", **{v: "1" for v in THREAD_VARIABLES})
        cwd = None
        if identity is not None:
            config["path"], config["folder"] = _student_copy(path, workdir, identity)
            cwd = os.path.dirname(config["path"])
            env = {k: v for k, v in env.items() if k in SAFE_VARIABLES}
            env["HOME"] = cwd
        (req_r, req_w), (rep_r, rep_w), (st_r, st_w) = os.pipe(), os.pipe(), os.pipe()
        config["fds"] = [req_r, rep_w, st_w]
        try:
            with open(os.path.join(workdir, "output.log"), "wb") as log, _spawning:
                proc = subprocess.Popen([sys.executable, "-I", "-u", "-c", BOOT, ROOT, json.dumps(config)],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        pass_fds=(req_r, rep_w, st_w), start_new_session=True, env=env,
                                        cwd=cwd)
                _supervisors.add(proc.pid)
        except BaseException:
            for fd in (req_w, rep_r, st_r):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            for fd in (req_r, rep_w, st_w):
                os.close(fd)
        child = cls(limits, workdir, (req_w, rep_r, st_r), f"while loading {Path(path).name}")
        child.pid, child.proc = proc.pid, proc
        return child

    @classmethod
    def fork(cls, functions: dict, limits: Limits = DEFAULT_LIMITS, *, forbid=(),
             user: Optional[str] = None) -> "Child":
        """A fork of this process serving ``functions`` (name → callable); ``forbid`` and ``user`` as
        for ``spawn``, applied in the fork before it serves (what the functions' modules imported
        into this process is ``containment.forbidden_in``'s to check)."""
        names, identity = containment.forbidden_names(forbid), containment.student_user(user)
        workdir = tempfile.mkdtemp(prefix="grade-")
        (req_r, req_w), (rep_r, rep_w), (st_r, st_w) = os.pipe(), os.pipe(), os.pipe()
        log_fd = os.open(os.path.join(workdir, "output.log"), os.O_WRONLY | os.O_CREAT, 0o600)
        with _spawning:
            pid = quiet_fork()
            if pid == 0:
                try:
                    close_all_but((req_r, rep_w, st_w, log_fd))
                    run_forked(functions, (req_r, rep_w, st_w), log_fd, limits.memory_mb,
                               Containment(identity, names))
                finally:
                    os._exit(70)
            _supervisors.add(pid)
        for fd in (req_r, rep_w, st_w, log_fd):
            os.close(fd)
        child = cls(limits, workdir, (req_w, rep_r, st_r), "before serving")
        child.pid = pid
        return child

    # -- calls ---------------------------------------------------------------------------

    def loaded(self) -> dict:
        """The load report of a spawned child: {"defines": [...], "functions": [...]}."""
        meta, _ = self._reply(self.label)
        if meta.get("ok") is not True:
            raise StudentCodeError(self._failure(meta, self.label))
        defines, functions = meta.get("defines"), meta.get("functions")
        if not (_strings(defines) and _strings(functions)):
            raise StudentCodeError("sent a malformed load report")
        self.label = "before returning"
        return {"defines": defines, "functions": functions}

    def proxy(self, name: str, role: Optional[str] = None):
        """A callable standing for the student's ``name``, graded as ``role`` (``proxies.role_of``)."""
        return Proxy(self, name, role_of(name, role))

    def call(self, name: str, args: tuple, role: str = "backward"):
        """Run ``name(*args)`` in the child; its result, or StudentCodeError."""
        meta: dict[str, Any] = {"op": "call", "function": name, "args": []}
        arrays = {}
        for i, arg in enumerate(args):
            description, packed = exchange.pack(arg, prefix=f"a{i}.")
            meta["args"].append(description)
            arrays.update(packed)
        when = f"before returning {GRADED_PARTS[role].result_words} (in {name})"
        self._send(exchange.encode(meta, arrays), when)
        reply, arrays = self._reply(when)
        if reply.get("ok") is not True:
            raise StudentCodeError(self._failure(reply, f"in {name}"))
        try:
            value = exchange.unpack(reply.get("result"), arrays, prefix="r")
        except exchange.ExchangeError as err:
            raise StudentCodeError(f"sent a malformed result from {name}: {err}") from None
        return expect(value, role, reply.get("result"), name)

    def finish(self) -> None:
        """Tell the worker to stop and check that its supervisor reports; StudentCodeError if not."""
        try:
            self._send(exchange.encode({"op": "quit"}), "after grading")
        except StudentCodeError:
            pass
        deadline = time.monotonic() + max(5.0, self.limits.timeout - self.spent)
        while self.ended is None and time.monotonic() < deadline:
            self._wait(min(0.5, deadline - time.monotonic()), want_reply=False)
        if self.ended is None:
            self.kill()
            raise StudentCodeError("did not stop after grading; killed")
        if "killed_parent" in self.ended:
            raise StudentCodeError(self._ended_reason("after grading"))
        if self.ended.get("left"):
            raise StudentCodeError(containment.left_reason(self.ended["left"]))

    # -- waiting -------------------------------------------------------------------------

    def _send(self, data: bytes, when: str) -> None:
        view = memoryview(data)
        while view:
            if self.ended is not None:
                raise StudentCodeError(self._ended_reason(when))
            self._check_time()
            start = time.monotonic()
            _, writable, _ = select.select([], [self.req], [], 0.05)
            self.spent += time.monotonic() - start
            if writable:
                try:
                    view = view[os.write(self.req, view):]
                except (BrokenPipeError, BlockingIOError):
                    self._wait(0.05, want_reply=False)
            else:
                self._wait(0.0, want_reply=False)

    def _reply(self, when: str) -> tuple:
        """The next message from the worker, waiting at most the time left."""
        while True:
            try:
                message = self.frames.take()
            except exchange.ExchangeError as err:
                self.kill()
                raise StudentCodeError(f"sent a malformed reply {when}: {err}") from None
            if message is not None:
                return message
            if self.ended is not None:
                raise StudentCodeError(self._ended_reason(when))
            self._check_time()
            self._wait(min(0.5, self.limits.timeout - self.spent), want_reply=True)

    def _check_time(self) -> None:
        if self.spent >= self.limits.timeout:
            self.kill()
            raise StudentCodeError(f"timed out after {self.limits.timeout:g} s")

    def _wait(self, seconds: float, want_reply: bool) -> None:
        """Wait up to ``seconds`` for the worker's pipe or the supervisor's report; read what came."""
        fds = [self.status] + ([self.rep] if want_reply and self.rep_open else [])
        start = time.monotonic()
        readable, _, _ = select.select(fds, [], [], max(seconds, 0.0))
        self.spent += time.monotonic() - start
        if self.rep in readable:
            self._drain()
        if self.status in readable and self.ended is None:
            self._drain()  # whatever the worker wrote before it ended is in the pipe by now
            self._read_status()

    def _drain(self) -> None:
        while self.rep_open and not self.frames.full():
            try:
                chunk = os.read(self.rep, 1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                self.rep_open = False
                return
            self.frames.feed(chunk)

    def _read_status(self) -> None:
        """Read the supervisor's lines: the worker's pid, then how it ended (or end of file: the
        supervisor died without reporting, something killed it)."""
        while self.ended is None:
            try:
                data = os.read(self.status, 256)
            except BlockingIOError:
                return
            self.status_buffer += data
            while b"\n" in self.status_buffer and self.ended is None:
                line, self.status_buffer = self.status_buffer.split(b"\n", 1)
                self._status_line(line)
            if not data or len(self.status_buffer) > 1024:
                self.ended = self.ended or {"killed_parent": self._reap(GRACE_SECONDS)}

    def _status_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.ended = {"killed_parent": self._reap(GRACE_SECONDS)}
        elif message.keys() == {"worker"} and isinstance(message["worker"], int) and message["worker"] > 1:
            self.worker = message["worker"]
        elif message.keys() in ({"exit", "left"}, {"signal", "left"}):
            self.ended = message

    # -- endings -------------------------------------------------------------------------

    def _failure(self, reply: dict, where: str) -> str:
        """The reason in a worker's error reply, in the grader's words where they matter."""
        if reply.get("memory") is True:
            limit = f"limit {self.limits.memory_mb} MB" if self.limits.memory_mb else "no limit set"
            return f"out of memory ({limit}) {where}"
        reason = reply.get("reason")
        if not isinstance(reason, str):
            reason = "failed"
        return f"{sanitize(reason)[:300]} ({where})"

    def _ended_reason(self, when: str) -> str:
        assert self.ended is not None  # called only once the supervisor has ended
        reason = ending({k: v for k, v in self.ended.items() if k != "left"}, when, self.limits.memory_mb)
        if self.ended.get("left"):
            reason += "; it " + containment.left_reason(self.ended["left"])
        return reason

    def kill(self) -> None:
        """SIGKILL the worker and its process group; the supervisor then kills what left the group,
        reports and ends. Before it has said which process the worker is, or once it has died
        without a report, SIGKILL the supervisor's group as well. Nothing once it has reported."""
        assert self.pid is not None  # set by spawn or fork
        if self.ended is None:
            self._read_status_now()
        if self.ended is not None and "killed_parent" not in self.ended:
            return  # the worker has ended and the supervisor has swept: nothing of it is left
        targets = []
        if self.worker is not None:
            targets += [(os.killpg, self.worker), (os.kill, self.worker)]
        if (self.worker is None or self.ended is not None) and self.returncode is None:
            targets += [(os.killpg, self.pid), (os.kill, self.pid)]
        for kill, target in targets:
            try:
                kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _read_status_now(self) -> None:
        readable, _, _ = select.select([self.status], [], [], 0)
        if readable:
            self._read_status()

    def _reap(self, timeout: float):
        """The supervisor's return code (negative: killed by that signal), or None if still running."""
        if self.returncode is not None:
            return self.returncode
        if self.proc is not None:
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            return self.returncode
        assert self.pid is not None  # a forked child: fork set it
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            elif time.monotonic() > deadline:
                break
            else:
                time.sleep(0.01)
        return self.returncode

    def output(self, since: int = 0) -> str:
        """The tail of what the student's code printed (stdout and stderr), cut and made printable;
        ``since``: only what came after that many bytes (a ``printed()`` taken earlier)."""
        try:
            with open(os.path.join(self.workdir, "output.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                start = max(since, size - 4 * OUTPUT_CHARS)
                f.seek(start)
                data = f.read()
        except OSError:
            return ""
        return tail(data.decode("utf-8", errors="replace"), cut=start > since)

    def printed(self) -> int:
        """How many bytes the student's code has printed so far: a mark for ``output(since=...)``."""
        try:
            return os.stat(os.path.join(self.workdir, "output.log")).st_size
        except OSError:
            return 0

    def close(self) -> None:
        """Kill whatever is left (the supervisor sweeps, or is killed after GRACE_SECONDS), reap the
        supervisor, close the pipes, remove the work folder; then, where this process adopts
        orphans, kill those of supervisors that were killed."""
        self.kill()
        if self._reap(GRACE_SECONDS) is None:
            self.ended = {"killed_parent": None}
            self.kill()
            self._reap(GRACE_SECONDS)
        with _spawning:
            if self.returncode is not None:
                _supervisors.discard(self.pid)
            containment.sweep_adopted(set(_supervisors))
        for fd in (self.req, self.rep, self.status):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _student_copy(path, workdir: str, identity) -> tuple:
    """(the copy's path, the original's folder): ``path`` copied, read-only, into a folder of
    ``workdir`` owned by the user ``identity`` (uid, gid, groups), its scratch space; the
    grader reads the source before the worker drops to that user."""
    folder = os.path.join(workdir, "student")
    os.mkdir(folder, 0o700)
    copy = os.path.join(folder, Path(path).name)
    shutil.copyfile(path, copy)
    os.chmod(copy, 0o444)
    os.chmod(workdir, 0o711)  # the user may pass through to its own folder, not list or change this one
    os.chown(folder, identity[0], identity[1])
    return copy, os.path.dirname(os.path.abspath(path))


def close_all_but(keep) -> None:
    """Close every file descriptor from 3 up except those in ``keep`` (in a fresh fork)."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def _strings(value) -> bool:
    return isinstance(value, list) and len(value) < 10_000 and all(isinstance(v, str) for v in value)
