"""What keeps a submission's processes, privileges and imports within bounds. Standard library only.

Loaded in the child beside ``child`` and ``exchange`` (and nothing else of the
package), and in the grader for the checks it makes before starting one.

- **Every descendant ends with its submission** (``become_subreaper``,
  ``sweep``). The supervisor (``child.supervise``) is made a *child subreaper*
  (Linux's ``prctl(PR_SET_CHILD_SUBREAPER)``): a process the submission starts
  whose parent ends, a daemon that double-forks and calls ``setsid`` included,
  is re-parented to the supervisor instead of to init, so it stays findable
  however it leaves the process group or session. Once the worker has ended,
  ``sweep`` SIGKILLs the supervisor's children (SIGTERM can be ignored; SIGKILL
  cannot), reaps them, and repeats until none is left, each killed process
  handing its own children up to the supervisor. A subreaper was chosen over a
  cgroup because it needs no privilege and no delegated cgroup tree (most
  laptops and many containers have neither), costs one system call, and works
  the same in the command's spawned child and in the fixture's fork. What it
  does not survive is the supervisor itself being killed (by a submission
  running as the grader's user): its orphans then go to the next subreaper
  up, which is the command's grader process (``adopt_orphans``), or init.
  The worker itself dies with its supervisor (``die_with_parent``), so that
  it cannot go on to signal the grader it would be handed to.
  Elsewhere (macOS, the BSDs) there is no subreaper: ``sweep`` kills the
  worker's process group only, and a process that calls ``setsid`` escapes.
- **Another user** (``student_user``, ``drop_to``): as root, the worker
  takes that user's groups, group and user id, in that order, before the
  submission's code runs.
- **The reference is out of reach** (``forbid_imports``): the grader's
  packages, and any module named by ``--forbid``, are removed from
  ``sys.modules`` and a finder first on ``sys.meta_path`` refuses to import
  them, with an ImportError that names the module. It is a policy check, not
  a sandbox: code that finds the source files on disk and loads them by
  hand, or a student who copies the reference into the file, is not stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import time

REFERENCE = ("manual_backprop", "torch_ref")  # the grader's packages: forbidden to every submission
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36
SWEEP_SECONDS = 10.0  # a sweep that cannot empty the tree in this long (a fork bomb) gives up
_adopting = False  # True once this process adopts orphans (the command's grader)


def _prctl(option: int, value: int) -> bool:
    """Linux's prctl(option, value); False where there is none or it fails."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):  # ImportError: ctypes unreadable to the user dropped to
        return False


def become_subreaper() -> bool:
    """Make this process the one orphaned descendants are re-parented to; False where impossible."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> bool:
    """Have the kernel SIGKILL this process (the worker) the moment its parent (the supervisor)
    ends; False where impossible (not Linux).

    Without it, a worker whose code kills its supervisor is handed to the next subreaper up, the
    command's grader (``adopt_orphans``), and its next ``os.kill(os.getppid(), ...)`` would end the
    grader itself. Set after ``drop_to``: a change of user clears it. A supervisor already gone
    when it is set (it cannot be, before student code runs, unless killed from outside) ends the
    worker here.
    """
    parent = os.getppid()
    armed = _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if armed and os.getppid() != parent:
        os._exit(1)
    return armed


def children(pid: int) -> dict:
    """{child pid: its state letter ("Z" for a zombie)} of ``pid`` (Linux's /proc; {} elsewhere)."""
    found: set = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.update(int(c) for c in f.read().split())
        except OSError:
            return _children_by_scan(pid)  # a kernel without CONFIG_PROC_CHILDREN
    states = {}
    for child in found:
        state = _state(child)
        if state is not None:
            states[child] = state
    return states


def _children_by_scan(pid: int) -> dict:
    states = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid:
                states[int(entry)] = fields[0]
    return states


def _stat(pid: int):
    """[state, ppid, pgrp, ...] from /proc/PID/stat, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _state(pid: int):
    fields = _stat(pid)
    return fields[0] if fields else None


def sweep(group: int) -> int:
    """SIGKILL and reap every process left below this one and in process group ``group`` (the
    worker's); the number of them that were still running (zombies do not count; -1 where
    they cannot be counted but some were there)."""
    seen: set = set()
    if os.path.isdir(f"/proc/{os.getpid()}/task"):
        deadline = time.monotonic() + SWEEP_SECONDS
        while time.monotonic() < deadline:
            left = children(os.getpid())
            if not left:
                break
            for pid, state in left.items():
                if state != "Z":
                    seen.add(pid)
                _signal(os.kill, pid)
            _reap_all(left)
    elif _signal(os.killpg, group, 0):  # no /proc: only the process group can be found
        seen.add(-1)
    _signal(os.killpg, group)  # whatever stayed in the worker's group and was not found above
    _reap_all({})
    return -1 if -1 in seen else len(seen)


def _signal(kill, target: int, number: int = signal.SIGKILL) -> bool:
    try:
        kill(target, number)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _reap_all(expected: dict) -> None:
    """Reap ``expected`` (just sent SIGKILL, so ending) and any other child that has ended."""
    for pid in expected:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def adopt_orphans() -> bool:
    """Make this process (the command's grader) a subreaper too, so that a submission that kills
    its supervisor leaves its orphans here, for ``sweep_adopted``; False where impossible."""
    global _adopting
    _adopting = _adopting or become_subreaper()
    return _adopting


def sweep_adopted(keep) -> int:
    """SIGKILL and reap this process's children not in ``keep`` (the supervisors still running),
    when this process adopts orphans (else nothing); how many there were."""
    if not _adopting:
        return 0
    killed = 0
    for _ in range(100):
        strays = {pid: state for pid, state in children(os.getpid()).items() if pid not in keep}
        if not strays:
            break
        for pid in strays:
            killed += _signal(os.kill, pid)
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed


def left_reason(left: int) -> str:
    """The failure of a submission that left ``left`` processes behind (-1: some, uncounted)."""
    if left == 1:
        return "left 1 process running after grading; it was killed"
    return f"left {'' if left < 0 else f'{left} '}processes running after grading; they were killed"


# -- another user --------------------------------------------------------------------------------


def student_user(name):
    """(uid, gid, groups) of the user ``name`` the child drops to; ValueError when that is impossible
    (no such user, or this process is not root)."""
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise ValueError(f"user must be a user name; got {name!r}")
    try:
        import pwd
    except ImportError:
        raise ValueError(f"user={name!r}: running student code as another user needs a POSIX system") from None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"no such user: {name!r} (create one with: "
                         f"useradd --system --no-create-home {name})") from None
    if os.geteuid() != 0:
        raise ValueError(f"running student code as {name!r} needs the grader to run as root "
                         f"(it runs as uid {os.geteuid()})")
    if entry.pw_uid == 0:
        raise ValueError(f"user {name!r} is root: choose an unprivileged user")
    return entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(name, entry.pw_gid))


def drop_to(identity) -> None:
    """Become ``identity`` (``student_user``'s triple): its groups, then its group, then its user;
    RuntimeError when root could be regained."""
    uid, gid, groups = identity
    os.setgroups(list(groups))
    os.setgid(gid)
    os.setuid(uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("dropped to another user but could become root again")


# -- the reference out of reach ------------------------------------------------------------------


def forbidden_names(forbid=()) -> tuple:
    """The module names forbidden to a submission: the reference's packages, then ``forbid``
    (names, or one comma-separated string); ValueError for a name that is not a module's."""
    if isinstance(forbid, str):
        forbid = forbid.split(",")
    elif forbid is None:
        forbid = ()
    names = list(REFERENCE)
    for name in forbid:
        if not isinstance(name, str):
            raise TypeError(f"forbid must be module names; got {type(name).__name__} {name!r}")
        name = name.strip()
        if not name and isinstance(forbid, list):  # "" or "torch,": nothing between the commas
            continue
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"{name!r} is not a module name (expected names such as torch,jax)")
        if name not in names:
            names.append(name)
    return tuple(names)


def is_forbidden(module: str, names) -> str | None:
    """The forbidden name that ``module`` is or is inside, or None."""
    for name in names:
        if module == name or module.startswith(name + "."):
            return name
    return None


class ForbiddenImports:
    """A meta path finder that refuses the forbidden modules, naming them."""

    def __init__(self, names):
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        name = is_forbidden(fullname, self.names)
        if name is None:
            return None
        why = "the grader's reference" if name in REFERENCE else "forbidden by the course"
        raise ImportError(f"import of {fullname} refused: {name} is {why}; submissions may not use it",
                          name=fullname)

    def invalidate_caches(self):
        pass


def forbid_imports(names) -> None:
    """Remove the modules ``names`` (and their submodules) from ``sys.modules`` and refuse to import
    them again. The caller keeps working: what it already holds stays bound."""
    for module in list(sys.modules):
        if is_forbidden(module, names):
            del sys.modules[module]
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, ForbiddenImports)]
    sys.meta_path.insert(0, ForbiddenImports(names))
    import importlib

    importlib.invalidate_caches()


def forbidden_in(functions: dict, names) -> list:
    """What the modules of ``functions`` (name → callable, already imported) hold from a forbidden
    module: ``["solution.MLP (manual_backprop.mlp)", ...]``, for a check before grading them."""
    found = []
    for function in functions.values():
        namespace = getattr(function, "__globals__", None) or {}
        owner = namespace.get("__name__", "?")
        for key, value in list(namespace.items()):
            try:  # a student's object may raise anything from its attributes
                source = value.__name__ if isinstance(value, type(sys)) else getattr(value, "__module__", None)
            except Exception:
                continue
            if isinstance(source, str) and is_forbidden(source, names):
                entry = f"{owner}.{key} ({source})"
                if entry not in found:
                    found.append(entry)
    return found
