"""MLP.save: atomic, durable, the mode a user expects, through symlinks, and clear about bad paths.

A save writes a temporary file beside the target, fsyncs it, renames it over
the target and fsyncs the directory. The tests check the order of those
calls, that no exception and no ``kill -9`` leaves anything but the old or
the new net (and that the next save sweeps what a kill left), the file's
mode under a umask and over an existing file, symlinks, and every kind of
bad path.
"""

from __future__ import annotations

import io
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from manual_backprop import MLP

NET = MLP([4, 16, 2], seed=0)
OTHER = MLP([4, 16, 2], seed=1)


def identical(back, net) -> bool:
    return repr(back) == repr(net) and all(back.params[k].tobytes() == p.tobytes() for k, p in net.params.items())


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process's umask for one test (pytest-xdist runs each worker in its own process)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_follows_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    NET.save(tmp_path / "net.npz")
    assert mode(tmp_path / "net.npz") == expected


def test_replaced_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "net.npz"
    NET.save(path)
    os.chmod(path, 0o604)
    umask(0o077)
    OTHER.save(path)
    assert mode(path) == 0o604 and identical(MLP.load(path), OTHER)


def test_fsync_file_then_rename_then_fsync_directory(tmp_path, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace

    def logged_fsync(fd):
        events.append("fsync directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    def logged_replace(src, dst):
        events.append("rename")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    NET.save(tmp_path / "net.npz")
    assert events == ["fsync file", "rename", "fsync directory"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_exception_while_writing_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, error):
    path = tmp_path / "net.npz"
    NET.save(path)
    old = path.read_bytes()

    def half_written(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise error

    monkeypatch.setattr(np, "savez", half_written)
    with pytest.raises(type(error)) as info:
        OTHER.save(path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["net.npz"]
    if isinstance(error, OSError):
        assert f"cannot save to {str(path)!r}" in str(info.value) and info.value.filename == str(path)
        assert ".tmp-" not in str(info.value), "the temporary file is an internal detail"


def test_os_errors_name_the_users_path(tmp_path):
    missing = tmp_path / "no-such-dir" / "net.npz"
    with pytest.raises(FileNotFoundError, match=re.escape(f"cannot save to {str(missing)!r}")):
        NET.save(missing)
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(IsADirectoryError, match=re.escape("cannot save to")) as info:
        NET.save(tmp_path / "a-directory")
    assert info.value.filename == str(tmp_path / "a-directory")
    assert sorted(os.listdir(tmp_path)) == ["a-directory"] and os.listdir(tmp_path / "a-directory") == []


def test_symlink_is_written_through_to_its_target(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.npz"
    NET.save(target)
    link = tmp_path / "latest.npz"
    link.symlink_to(os.path.join("models", "v1.npz"))  # relative, as ln -s makes it
    OTHER.save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("models", "v1.npz")
    assert identical(MLP.load(target), OTHER)
    assert sorted(os.listdir(tmp_path / "models")) == ["v1.npz"]


def test_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "new.npz")
    NET.save(link)
    assert link.is_symlink() and identical(MLP.load(tmp_path / "new.npz"), NET)


BAD_PATHS = [
    pytest.param(None, TypeError, "got NoneType None", id="None"),
    pytest.param(3, TypeError, "got int 3", id="int"),
    pytest.param(b"net.npz", TypeError, "got bytes b'net.npz': decode it first", id="bytes"),
    pytest.param(io.BytesIO(), TypeError, "pass the file's name instead", id="file-object"),
    pytest.param("net\0.npz", ValueError, "must not contain a NUL character; got 'net\\x00.npz'", id="NUL"),
    pytest.param("", ValueError, "must name a file; got the empty string", id="empty"),
]


@pytest.mark.parametrize("path,error,fragment", BAD_PATHS)
@pytest.mark.parametrize("call", ["save", "load"])
def test_bad_path_is_named(tmp_path, monkeypatch, path, error, fragment, call):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error) as info:
        NET.save(path) if call == "save" else MLP.load(path)
    message = str(info.value)
    assert message.startswith("path must ") and fragment in message, message
    assert os.listdir(tmp_path) == []


def test_path_like_giving_bytes_is_refused(tmp_path):
    class BytesPath:
        def __fspath__(self):
            return b"net.npz"

    with pytest.raises(TypeError, match=re.escape("path must give a str path; got BytesPath whose __fspath__ "
                                                  "returned bytes b'net.npz'")):
        NET.save(BytesPath())


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_next_save_sweeps_temporaries_of_dead_processes_only(tmp_path):
    path = tmp_path / "net.npz"
    orphan = tmp_path / f".net.npz.tmp-{dead_pid()}-0123abcd"
    in_progress = tmp_path / f".net.npz.tmp-{os.getppid()}-4567cdef"  # a live process: maybe saving now
    other_files = [tmp_path / f".other.npz.tmp-{dead_pid()}-89abcdef", tmp_path / ".net.npz.tmp-notes"]
    for p in [orphan, in_progress, *other_files]:
        p.write_bytes(b"partial")
    NET.save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in [path, in_progress, *other_files])


SAVER = r"""
import os, sys
from manual_backprop import MLP

path = sys.argv[1]
nets = [MLP([32, 128, 32], seed=seed) for seed in (1, 2)]  # 70 KB each: a save takes about a ms
while sys.stdin.readline():  # one line per round: fork a child that saves in a loop until killed
    pid = os.fork()
    if pid == 0:
        try:
            os.write(1, b"%d\n" % os.getpid())
            i = 0
            while True:
                nets[i % 2].save(path)
                i += 1
        finally:
            os._exit(1)
    os.waitpid(pid, 0)  # reaped: its pid is dead for the next save's sweep
    sys.stdout.write("reaped\n")
    sys.stdout.flush()
"""


def test_kill_during_save_leaves_the_old_or_the_new_net_and_the_next_save_sweeps(tmp_path):
    """24 rounds: a forked child saves two nets in turn, SIGKILL at a random moment (seeded)."""
    path = tmp_path / "net.npz"
    nets = [MLP([32, 128, 32], seed=seed) for seed in (1, 2)]
    nets[0].save(path)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    rng = random.Random(13)
    orphans = 0
    try:
        for round_ in range(24):
            saver.stdin.write("go\n")
            saver.stdin.flush()
            pid = int(saver.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.01))
            os.kill(pid, signal.SIGKILL)
            assert saver.stdout.readline() == "reaped\n"
            back = MLP.load(path)
            assert identical(back, nets[0]) or identical(back, nets[1]), f"round {round_}: a third net"
            orphans += len(os.listdir(tmp_path)) - 1
            nets[round_ % 2].save(path)
            assert os.listdir(tmp_path) == ["net.npz"], f"round {round_}: left {os.listdir(tmp_path)}"
    finally:
        saver.stdin.close()
        saver.wait(timeout=10)
        saver.stdout.close()
    assert orphans > 0, "no kill landed inside a save: the sweep was never exercised"
