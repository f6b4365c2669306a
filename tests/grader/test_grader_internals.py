"""The grader's parts on their own: the npz exchange, the drawn cases, notebooks, the reference cache,
the in-process fallback, and the process-group kill on timeout."""

from __future__ import annotations

import io
import os
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.students import student_backward
from manual_backprop import MLP
from manual_backprop.oracle import check_gradients_fd, exchange
from manual_backprop.oracle.batch import CachedCheck, finite_difference_tolerance, grade_file
from manual_backprop.oracle.cases import DEFAULT_CASES, case_data, grade
from manual_backprop.oracle.finite_differences import numerical_grads
from manual_backprop.oracle.hidden import draw_cases
from manual_backprop.oracle.isolation import Child, Limits
from manual_backprop.oracle.notebooks import _code_cells_json, code_cells, notebook_code
from manual_backprop.oracle.proxies import InProcess, StudentCodeError

NOTEBOOK = Path(__file__).resolve().parents[1] / "submissions" / "honest" / "notebook.ipynb"


# -- the exchange: nothing from the child is unpickled, nothing it sends can grow without bound ----

def _frame_parts(frame: bytes):
    meta_len, data_len = exchange.frame_length(frame[:exchange.HEADER.size])
    body = frame[exchange.HEADER.size:]
    return body[:meta_len], body[meta_len:meta_len + data_len]


def test_a_dict_of_arrays_round_trips_as_plain_writable_arrays():
    class Agreeable(np.ndarray):  # a subclass whose comparisons always agree
        def __eq__(self, other):
            return np.ones(self.shape, dtype=bool)

    grads = {"W_H": np.arange(6.0).reshape(2, 3).view(Agreeable), "b_H": [[1.0], [2.0]],
             "W_O": "not an array", 3: np.float32(2.5)}
    description, arrays = exchange.pack(grads, prefix="r")
    meta, arrays = exchange.decode(*_frame_parts(exchange.encode({"result": description}, arrays)))
    back = exchange.unpack(meta["result"], arrays, prefix="r")
    assert list(back) == ["W_H", "b_H", "W_O", "3"]
    assert type(back["W_H"]) is np.ndarray and back["W_H"].flags.writeable
    assert back["W_H"].tolist() == [[0, 1, 2], [3, 4, 5]] and back["b_H"].shape == (2, 1)
    assert type(back["W_O"]).__name__ == "str" and not isinstance(back["W_O"], str)
    assert back["3"].dtype == np.float32 and float(back["3"]) == 2.5


def test_a_pickled_object_array_is_refused():
    buf = io.BytesIO()
    np.savez(buf, r0=np.array([{"evil": 1}], dtype=object))  # object arrays are stored as pickles
    with pytest.raises(exchange.ExchangeError, match="unreadable"):
        exchange.decode(b"{}", buf.getvalue())


def test_sizes_over_the_limit_are_refused_before_reading_them():
    with pytest.raises(exchange.ExchangeError, match="over the"):
        exchange.frame_length(exchange.HEADER.pack(10, exchange.MAX_DATA + 1))
    buf = io.BytesIO()  # 80 MB of zeros compress to a few hundred kB: a decompression bomb
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("r0.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (10_000_000,)})
            zeros = bytes(1 << 20)
            for _ in range(80):
                f.write(zeros)
    assert len(buf.getvalue()) < exchange.MAX_DATA
    with pytest.raises(exchange.ExchangeError, match="unpack to over"):
        exchange.decode(b"{}", buf.getvalue())


@pytest.mark.parametrize("meta", [b"[1, 2]", b"\xff\xfe", b"{not json"], ids=["list", "bytes", "syntax"])
def test_malformed_json_is_an_exchange_error(meta):
    with pytest.raises(exchange.ExchangeError):
        exchange.decode(meta, b"")


# -- drawn cases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(0, 400, 7))
def test_drawn_cases_keep_the_diagnosis_unambiguous(seed):
    cases = draw_cases(seed)
    assert draw_cases(seed) == cases and len(cases) == 4
    Ns, outs = [c.N for c in cases], [c.sizes[-1] for c in cases]
    assert Ns.count(1) == 1 and 2 not in Ns and all(n <= 40 for n in Ns)
    assert 2 not in outs and all(len(c.sizes) == 3 and min(c.sizes) >= 1 for c in cases)
    assert any(c.N >= 3 and c.sizes[-1] >= 3 and c.N != c.sizes[-1] for c in cases)
    assert len({c.seed for c in cases}) == 4


def test_different_seeds_draw_different_cases():
    drawn = {tuple((c.sizes, c.N) for c in draw_cases(seed)) for seed in range(20)}
    assert len(drawn) == 20


# -- notebooks -----------------------------------------------------------------------------------

def test_notebook_code_cells_without_magics_and_with_notes():
    source, notes = notebook_code(str(NOTEBOOK))
    assert notes == ["cell 1, line 1: skipped '%matplotlib inline'",
                     "cell 1, line 2: skipped '!pip install numpy'",
                     "cell 2: skipped the whole cell (cell magic %%time)",
                     "cell 3, line 6: skipped '%time dO.sum()'"]
    namespace = {}
    exec(compile(source, "notebook", "exec"), namespace)
    assert "this is not python" not in source and callable(namespace["backward"])
    assert [r.report.passed for r in grade(namespace["backward"])] == [True] * 4


def test_the_json_reader_finds_the_cells_nbformat_finds():
    cells = _code_cells_json(str(NOTEBOOK))
    assert len(cells) == 3 and cells[0].startswith("%matplotlib") and cells == code_cells(str(NOTEBOOK))


# -- the reference cache -------------------------------------------------------------------------

def test_the_cached_check_reports_what_the_uncached_check_reports():
    check = CachedCheck(numerical_grads, "finite differences", finite_difference_tolerance)
    for mistake in (None, "b_in_not_summed", "W_out_transposed"):
        def backward(p, I, Y, m=mistake):
            return student_backward(p, I, Y, m)
        cached = grade(backward, check=check)
        plain = grade(backward, check=check_gradients_fd)
        assert [str(r.report) for r in cached] == [str(r.report) for r in plain]
    assert check.computed == len(DEFAULT_CASES), "one reference per case, for three submissions"


def test_the_cache_tells_nets_apart_by_their_weights():
    check = CachedCheck(numerical_grads, "finite differences", finite_difference_tolerance)
    case = DEFAULT_CASES[0]
    I, Y = case_data(case)
    for seed in (0, 1):
        net = MLP(list(case.sizes), seed=seed)
        net.forward(I)
        assert check(net, I, Y, net.backward(Y)).passed
    assert check.computed == 2


# -- where there is no fork: the same failures, in process ---------------------------------------

@pytest.mark.parametrize("body,reason", [
    ("raise SystemExit(3)", "called sys.exit(3) (raised SystemExit) (in backward)"),
    ("pytest.skip('later')", "called pytest.skip('later') (in backward)"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt (in backward)"),
    ("return [1, 2]", "backward returned list; it must return a dict of gradients"),
], ids=["sys-exit", "skip", "interrupt", "list"])
def test_in_process_fallback_turns_every_exception_into_a_failure(body, reason):
    namespace = {"pytest": pytest}
    exec(f"def backward(params, I, Y):\n    {body}\n", namespace)
    with InProcess({"backward": namespace["backward"]}) as child:
        with pytest.raises(StudentCodeError) as info:
            grade(child.proxy("backward"))
    assert str(info.value).startswith(reason)


# -- the time limit kills everything the submission started --------------------------------------

def test_a_timeout_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    (tmp_path / "spawner.py").write_text(
        "import subprocess, sys\n"
        "def backward(params, I, Y):\n"
        f"    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "    while True:\n"
        "        pass\n")
    submission = grade_file(tmp_path / "spawner.py", lambda proxies: grade(proxies["backward"]),
                            limits=Limits(timeout=3))
    assert submission.error == "timed out after 3 s" and not submission.passed
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the grandchild outlived the timeout"


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- the children: no torch in the spawned one, no warning out of the forked one -------------------

def test_the_spawned_child_runs_without_torch(tmp_path):
    (tmp_path / "reporter.py").write_text(
        "import sys\n"
        "from correct import backward\n"
        "print('torch loaded in the child:', 'torch' in sys.modules)\n")
    (tmp_path / "correct.py").write_text((NOTEBOOK.parent / "correct.py").read_text())
    submission = grade_file(tmp_path / "reporter.py", lambda proxies: grade(proxies["backward"]))
    assert submission.passed, submission.error
    assert submission.output == "torch loaded in the child: False"


def test_forking_where_python_warns_about_threads_lets_no_warning_out(monkeypatch):
    """Python 3.12+ warns (DeprecationWarning) when a process with threads forks; this suite makes
    warnings errors, as a course's may. The fork here warns as 3.12 does, on any Python."""
    real_fork = os.fork

    def warning_fork():
        warnings.warn("This process is multi-threaded, use of fork() may lead to deadlocks in the child.",
                      DeprecationWarning, stacklevel=2)
        return real_fork()

    monkeypatch.setattr(os, "fork", warning_fork)
    namespace = {}
    exec((NOTEBOOK.parent / "correct.py").read_text(), namespace)
    with Child.fork({"backward": namespace["backward"]}) as child:
        results = grade(child.proxy("backward"))
        child.finish()
    assert [r.report.passed for r in results] == [True] * 4
