"""Save an MLP to an ``.npz`` file and load it back, parameters bit-exact.

The file holds one array per parameter under its seed name (``W_H``, ``b_H``,
…) in the net's dtype, and ``config``: a JSON string with the constructor's
arguments (sizes, activations, loss, dtype, seed) and a format version. Plain
arrays only, so it loads with ``allow_pickle=False`` and NumPy alone can read
it: ``np.load(path)["W_H"]``.

Loading checks everything before it builds a net: a missing, extra,
mis-shaped, wrongly typed or non-finite array, or a bad config, is a
ValueError that names the key.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "manual_backprop.MLP"
VERSION = 1
CONFIG_KEYS = ("sizes", "activation", "output_activation", "loss", "dtype", "seed")


def config_of(net) -> dict:
    """The constructor arguments that rebuild ``net``'s architecture, as JSON-ready values."""
    return {"format": FORMAT, "version": VERSION, "sizes": list(net.sizes),
            "activation": net.activation, "output_activation": net.output_activation,
            "loss": net.loss_name, "dtype": net.dtype.name, "seed": net.seed}


def save_mlp(net, path) -> None:
    """Write ``net`` to ``path`` exactly (no suffix is added), replacing it only once fully written."""
    for key, p in net.params.items():
        if not np.isfinite(p).all():
            raise ValueError(f"net.params[{key!r}] holds NaN or ±inf; refusing to save a diverged net")
    arrays = {"config": np.array(json.dumps(config_of(net)))}  # 0-d unicode array, no pickle
    arrays.update(net.params)
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stubs fear a key named allow_pickle
        os.replace(tmp, path)  # atomic: an interrupted save leaves the old file as it was
    except BaseException:
        os.unlink(tmp)
        raise


def _read_config(path, files) -> dict:
    if "config" not in files:
        raise ValueError(f"{path}: missing array 'config'; was this file written by MLP.save?")
    raw = files["config"]
    if raw.dtype.kind != "U" or raw.shape != ():
        raise ValueError(f"{path}: 'config' must be a JSON string; got dtype {raw.dtype}, shape {raw.shape}")
    try:
        config = json.loads(raw.item())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: 'config' is not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path}: 'config' does not describe a {FORMAT}; got {config!r}")
    if config.get("version") != VERSION:
        raise ValueError(f"{path}: 'config' has format version {config.get('version')!r}; "
                         f"this code reads version {VERSION}")
    missing = [k for k in CONFIG_KEYS if k not in config]
    if missing:
        raise ValueError(f"{path}: 'config' lacks {missing}")
    return {k: config[k] for k in CONFIG_KEYS}


def _read_array(path, files, key: str, like: np.ndarray) -> np.ndarray:
    if key not in files:
        raise ValueError(f"{path}: missing array {key!r} (this architecture needs {key!r} of shape {like.shape})")
    try:
        a = files[key]
    except ValueError as err:  # an object array, which would need pickle
        raise ValueError(f"{path}: array {key!r} cannot be read without pickle ({err})") from None
    if a.shape != like.shape:
        raise ValueError(f"{path}: array {key!r} has shape {a.shape}; the config's sizes need {like.shape}")
    if a.dtype != like.dtype:
        raise ValueError(f"{path}: array {key!r} has dtype {a.dtype}; the config says {like.dtype.name}")
    if not np.isfinite(a).all():
        raise ValueError(f"{path}: array {key!r} holds NaN or ±inf")
    return np.ascontiguousarray(a)


def load_mlp(cls, path):
    """Build a ``cls`` from a file written by ``save_mlp``; every array is checked before the net is made."""
    try:
        files = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not an .npz file written by MLP.save ({err})") from None
    if not isinstance(files, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single .npy array, not an .npz file written by MLP.save")
    with files:
        config = _read_config(path, files)
        try:
            net = cls(**config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: 'config' is not a valid MLP configuration: {err}") from None
        extra = [k for k in files.files if k != "config" and k not in net.params]
        if extra:
            raise ValueError(f"{path}: unexpected array(s) {extra}; this architecture has "
                             f"{list(net.params)}")
        loaded = {key: _read_array(path, files, key, p) for key, p in net.params.items()}
    net.params.update(loaded)
    return net
