"""Save an MLP to an ``.npz`` file and load it back, parameters bit-exact.

The file holds one array per parameter under its seed name (``W_H``, ``b_H``,
…) in the net's dtype, and ``config``: a JSON string with the constructor's
arguments (sizes, activations, loss, dtype, seed) and a format version. Plain
arrays only, so it loads with ``allow_pickle=False`` and NumPy alone can read
it: ``np.load(path)["W_H"]``.

Saving is atomic and durable: the arrays go to a temporary file beside the
target (``.<name>.tmp-<pid>-<random>``), which is fsynced, renamed over the
target, and the directory fsynced. A crash leaves the old file or the new
one, never a mix; a temporary orphaned by a killed process is removed by the
next save to the same path.

Loading trusts nothing in the file (``npz_reader`` reads it): the config is
parsed with a size and depth limit and checked first, then every array's
declared shape and dtype against it, and only then is any array read, each
exactly as large as the config implies. The net is built from those arrays
(``MLP.from_params``); no random net of their size is drawn. Any damaged or
crafted file is a ValueError naming the file, and the array where there is one.
"""

from __future__ import annotations

import json
import os
import reprlib
import secrets
from collections.abc import Mapping

import numpy as np

from .activations import get_activation
from .losses import get_loss
from .network import layer_names
from .npz_reader import DamagedFileError, NpzReader
from .validation import SUPPORTED_DTYPES, check_finite, check_seed, check_sizes

FORMAT = "manual_backprop.MLP"
VERSION = 1
CONFIG_KEYS = ("sizes", "activation", "output_activation", "loss", "dtype", "seed")
MAX_CONFIG_CHARS = 1 << 16  # the seed's config is ~180 characters; 1000 layers fit easily
MAX_CONFIG_DEPTH = 4  # the config is an object holding one list: depth 2


def check_path(path, name: str = "path") -> str:
    """A file name as ``str``: a ``str`` or ``os.PathLike`` (``pathlib.Path``); bytes and file objects are refused."""
    if not isinstance(path, (str, os.PathLike)):
        hint = ""
        if isinstance(path, (bytes, bytearray)):
            hint = ": decode it first, e.g. path.decode()"
        elif hasattr(path, "write") or hasattr(path, "read"):
            hint = (": pass the file's name instead (save writes a temporary file beside it and renames it "
                    "into place, which needs a name)")
        raise TypeError(f"{name} must be a str or os.PathLike such as pathlib.Path; "
                        f"got {type(path).__name__} {reprlib.repr(path)}{hint}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"{name} must give a str path; got {type(path).__name__} whose "
                        f"__fspath__ returned {type(text).__name__} {reprlib.repr(text)}")
    if "\0" in text:
        raise ValueError(f"{name} must not contain a NUL character; got {text!r}")
    if not text:
        raise ValueError(f"{name} must name a file; got the empty string")
    return text


def config_of(net) -> dict:
    """The constructor arguments that rebuild ``net``'s architecture, as JSON-ready values."""
    return {"format": FORMAT, "version": VERSION, "sizes": list(net.sizes),
            "activation": net.activation, "output_activation": net.output_activation,
            "loss": net.loss_name, "dtype": net.dtype.name, "seed": net.seed}


# ---------------------------------------------------------------- save


def save_mlp(net, path) -> None:
    """Write ``net`` to ``path`` exactly (no suffix is added), replacing it only once fully written and synced.

    A symlink at ``path`` is written through (its target is replaced). A new
    file gets the mode the umask gives; a replaced file keeps its mode.
    """
    text = check_path(path)
    for key, p in net.params.items():
        if not np.isfinite(p).all():
            raise ValueError(f"net.params[{key!r}] holds NaN or ±inf; refusing to save a diverged net")
    arrays = {"config": np.array(json.dumps(config_of(net)))}  # 0-d unicode array, no pickle
    arrays.update(net.params)
    target = os.path.realpath(text)  # through symlinks: the file they point at is replaced
    directory, name = os.path.split(target)
    try:
        write_atomically(directory, name, arrays)
    except OSError as err:  # name the user's path, not the temporary file
        raise OSError(err.errno, f"cannot save to {text!r}: {err.strerror or err}", text) from err
    sweep_orphans(directory, name)  # after: a save that raises leaves the directory as it was


def temporary_prefix(name: str) -> str:
    """Hidden, beside the target, recognisable; the name cut to 200 bytes so a temporary's stays under 255."""
    return f".{os.fsdecode(os.fsencode(name)[:200])}.tmp-"


def write_atomically(directory: str, name: str, arrays: dict) -> None:
    """Write a temporary, fsync it, rename it over ``name``, fsync the directory; no temporary survives a raise."""
    target = os.path.join(directory, name)
    try:
        mode = os.stat(target).st_mode & 0o7777  # a replaced file keeps its mode
    except FileNotFoundError:
        mode = None  # a new file: O_CREAT applies the umask to 0o666, as open() does
    while True:
        tmp = os.path.join(directory, f"{temporary_prefix(name)}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, target)  # atomic: a crash leaves the old file or the new one
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_directory(directory)  # the rename itself is on disk


def fsync_directory(directory: str) -> None:
    if os.name != "posix":  # Windows cannot fsync a directory: the rename is as durable as its file system makes it
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_orphans(directory: str, name: str) -> None:
    """Remove temporaries of saves to ``name`` whose process is gone (killed mid-save); best effort."""
    prefix = temporary_prefix(name)
    try:
        entries = os.listdir(directory)
    except OSError:  # the save itself succeeded; an unreadable directory only means no sweep
        return
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid, _, token = entry[len(prefix):].partition("-")
        if pid.isdigit() and len(token) == 8 and not process_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:  # swept by another save first, or not ours to remove
                pass


def process_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows: sweep nothing there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a pid no signal can reach): leave its file alone
    return True


# ---------------------------------------------------------------- load


def load_mlp(cls, path):
    """Build a ``cls`` from a file written by ``save_mlp``; every size is checked before anything is read.

    A missing or unreadable file is the OSError ``open`` gives; any problem
    with its contents is a ValueError naming the file.
    """
    text = check_path(path)
    with open(text, "rb") as f:
        try:
            with NpzReader(f, os.fstat(f.fileno()).st_size) as reader:
                return read_net(cls, reader)
        except DamagedFileError as err:
            raise ValueError(f"{text}: {err}") from None


def read_net(cls, reader: NpzReader):
    """The net in ``reader``: the config, then every array's header, then the arrays."""
    if "config" not in reader.members:
        raise DamagedFileError("missing array 'config'; was this file written by MLP.save?")
    config = read_config(reader)
    names = layer_names(len(config["sizes"]) - 1)
    dtype = np.dtype(config["dtype"])
    expected = {}  # key -> the shape the config's sizes need
    for name, fan_in, fan_out in zip(names, config["sizes"][:-1], config["sizes"][1:]):
        expected["W_" + name], expected["b_" + name] = (fan_out, fan_in), (fan_out, 1)
    extra = [k for k in reader.members if k != "config" and k not in expected]
    if extra:
        raise DamagedFileError(f"unexpected array(s) {extra}; this architecture has {list(expected)}")
    headers = {key: array_header(reader, key, shape, dtype) for key, shape in expected.items()}
    params = {}
    for key, header in headers.items():  # read only now: every size is known to match the config
        params[key] = reader.read(key, header)
        if not np.isfinite(params[key]).all():
            raise DamagedFileError(f"array {key!r} holds NaN or ±inf")
    return cls.from_params(params, activation=config["activation"],
                           output_activation=config["output_activation"], loss=config["loss"],
                           seed=config["seed"])


def array_header(reader: NpzReader, key: str, shape: tuple, dtype: np.dtype):
    if key not in reader.members:
        raise DamagedFileError(f"missing array {key!r} (this architecture needs {key!r} of shape {shape})")
    header = reader.header(key)
    if header.shape != shape:
        raise DamagedFileError(f"array {key!r} has shape {header.shape}; the config's sizes need {shape}")
    if header.dtype != dtype:
        got = header.dtype.str if header.dtype.name == dtype.name else header.dtype.name  # '>f8' vs float64
        raise DamagedFileError(f"array {key!r} has dtype {got}; the config says {dtype.name}")
    return header


def read_config(reader: NpzReader) -> dict:
    """The ``config`` member: a JSON string of bounded length and depth, naming a valid architecture."""
    header = reader.header("config")
    if header.dtype.kind != "U" or header.shape != ():
        raise DamagedFileError(f"'config' must be a JSON string; got dtype {header.dtype}, shape {header.shape}")
    n_chars = header.dtype.itemsize // 4  # UTF-32
    if n_chars > MAX_CONFIG_CHARS:
        raise DamagedFileError(f"'config' is a string of {n_chars} characters; a config has at most {MAX_CONFIG_CHARS}")
    try:  # decoded here: NumPy's own conversion fails with SystemError on a code point beyond Unicode
        text = reader.read("config", header).tobytes().decode("utf-32-le").rstrip("\0")
    except UnicodeError as err:
        raise DamagedFileError(f"'config' is not valid text ({err})") from None
    depth = json_depth(text, MAX_CONFIG_DEPTH)
    if depth > MAX_CONFIG_DEPTH:
        raise DamagedFileError(f"'config' nests deeper than {MAX_CONFIG_DEPTH} levels; a config is an object holding a list")
    try:
        config = json.loads(text)
    except ValueError as err:  # JSONDecodeError, or an integer of too many digits
        raise DamagedFileError(f"'config' is not valid JSON ({err})") from None
    return check_config(config)


def json_depth(text: str, limit: int) -> int:
    """How deep ``[`` and ``{`` nest in the JSON ``text``, outside strings; counting stops past ``limit``."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if escaped:  # the character after a backslash in a string
            escaped = False
        elif in_string:
            escaped, in_string = ch == "\\", ch != '"'
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif ch in "]}":
            depth -= 1
    return deepest


def check_config(config) -> dict:
    """The config's constructor arguments, each checked as ``MLP`` checks them; a bad one is DamagedFileError."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise DamagedFileError(f"'config' does not describe a {FORMAT}; got {reprlib.repr(config)}")
    if config.get("version") != VERSION:
        raise DamagedFileError(f"'config' has format version {reprlib.repr(config.get('version'))}; "
                     f"this code reads version {VERSION}")
    missing = [k for k in CONFIG_KEYS if k not in config]
    if missing:
        raise DamagedFileError(f"'config' lacks {missing}")
    dtype = config["dtype"]
    try:
        if dtype not in [d.name for d in SUPPORTED_DTYPES]:
            raise ValueError(f"dtype must be one of {[d.name for d in SUPPORTED_DTYPES]}; got {reprlib.repr(dtype)}")
        sizes = list(check_sizes(config["sizes"]))
        get_activation(config["activation"])
        get_activation(config["output_activation"], "output_activation")
        get_loss(config["loss"])
        seed = check_seed(config["seed"])
    except (TypeError, ValueError) as err:
        raise DamagedFileError(f"'config' is not a valid MLP configuration: {err}") from None
    return {**{k: config[k] for k in CONFIG_KEYS}, "sizes": sizes, "seed": seed}


# ---------------------------------------------------------------- from arrays


def copy_params(params) -> tuple[list[int], np.dtype, dict]:
    """For ``MLP.from_params``: ``params`` checked, and (sizes, dtype, copies in the seed's key order)."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of W and b per layer (W_H, b_H, W_O, b_O, …); "
                        f"got {type(params).__name__}")
    if len(params) < 2 or len(params) % 2:
        raise ValueError(f"params must hold a W and a b per layer, an even number ≥ 2 of arrays; "
                         f"got {len(params)}: {list(params)}")
    keys = [prefix + name for name in layer_names(len(params) // 2) for prefix in ("W_", "b_")]
    if set(params) != set(keys):
        raise ValueError(f"params must have the keys {keys}; got {list(params)}")
    dtype = getattr(params[keys[0]], "dtype", None)
    sizes: list[int] = []  # [D_I, fan_out of each layer so far]
    copies = {}
    for key in keys:
        p = params[key]
        if type(p) is not np.ndarray or p.dtype != dtype or p.dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"params[{key!r}] must be a NumPy array of float64 or float32, the dtype of "
                            f"every parameter; got {type(p).__name__} of dtype {getattr(p, 'dtype', None)} "
                            f"(params[{keys[0]!r}] has {dtype})")
        if p.ndim != 2 or p.size == 0:
            raise ValueError(f"params[{key!r}] must be a non-empty 2-D array, (fan_out, fan_in) for W and "
                             f"(fan_out, 1) for b; got shape {p.shape}")
        if key.startswith("W_"):
            expected = (p.shape[0], sizes[-1] if sizes else p.shape[1])
        else:
            expected = (sizes[-1], 1)
        if p.shape != expected:
            raise ValueError(f"params[{key!r}] must have shape {expected}, (fan_out, fan_in) for W and "
                             f"(fan_out, 1) for b, each layer's fan_in its predecessor's fan_out; got {p.shape}")
        check_finite(p, f"params[{key!r}]")
        if key.startswith("W_"):
            sizes += [p.shape[0]] if sizes else [p.shape[1], p.shape[0]]
        copies[key] = np.array(p, order="C")  # a copy, C-contiguous
    assert dtype is not None  # every array in the loop above has this dtype
    return sizes, dtype, copies
