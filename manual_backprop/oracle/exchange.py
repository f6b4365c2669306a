"""What the grader and a student's child process say to each other over pipes: JSON and ``.npz`` bytes.

A message is two length-prefixed parts, a small JSON object (what it is) and
``.npz`` bytes (the arrays), written as one frame::

    >QQ  (JSON length, npz length)   JSON bytes   npz bytes

Nothing from the child is ever unpickled: the JSON is parsed by ``json``, the
arrays are read with ``allow_pickle=False`` after checking the archive's
declared sizes, so a hostile child can send wrong numbers but cannot run code
in the grader or make it allocate without bound.

Values travel as one of four kinds: ``dict`` (names → arrays), ``array``,
``float``, or ``other`` (anything else, sent as its type name only).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Mapping

import numpy as np

HEADER = struct.Struct(">QQ")
MAX_META = 1 << 20  # bytes of JSON in one message
MAX_DATA = 64 << 20  # bytes of arrays in one message, as sent and as unpacked
MAX_ENTRIES = 1000  # arrays in one message


class ExchangeError(ValueError):
    """A message that does not follow this format (sent by a child that broke it)."""


def encode(meta: dict, arrays: Mapping | None = None) -> bytes:
    """One frame: ``meta`` as JSON and ``arrays`` (name → ndarray) as uncompressed npz."""
    meta_bytes = json.dumps(meta).encode()
    data = b""
    if arrays:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
    return HEADER.pack(len(meta_bytes), len(data)) + meta_bytes + data


def frame_length(header: bytes) -> tuple[int, int]:
    """The JSON and npz lengths a header announces; ExchangeError when over the limits."""
    meta_len, data_len = HEADER.unpack(header)
    if meta_len > MAX_META or data_len > MAX_DATA:
        raise ExchangeError(f"a message of {meta_len + data_len} bytes, over the "
                            f"{(MAX_META + MAX_DATA) >> 20} MB limit")
    return meta_len, data_len


class Frames:
    """Bytes read from a pipe, cut into messages as they complete."""

    def __init__(self):
        self.buffer = b""

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk

    def full(self) -> bool:
        """True once more than one message of the largest size is waiting (stop reading)."""
        return len(self.buffer) > HEADER.size + MAX_META + MAX_DATA

    def take(self):
        """The next complete message as (meta, arrays), or None; ExchangeError when malformed."""
        if len(self.buffer) < HEADER.size:
            return None
        meta_len, data_len = frame_length(self.buffer[:HEADER.size])
        start = HEADER.size
        end = start + meta_len + data_len
        if len(self.buffer) < end:
            return None
        meta_bytes, data = self.buffer[start:start + meta_len], self.buffer[start + meta_len:end]
        self.buffer = self.buffer[end:]
        return decode(meta_bytes, data)


def decode(meta_bytes: bytes, data: bytes) -> tuple[dict, dict]:
    """The (meta, arrays) of a frame's two parts; arrays are plain, writable ndarrays."""
    try:
        meta = json.loads(meta_bytes.decode())
    except (UnicodeDecodeError, ValueError) as err:
        raise ExchangeError(f"its JSON part is unreadable ({err})") from None
    if not isinstance(meta, dict):
        raise ExchangeError(f"its JSON part is a {type(meta).__name__}, not an object")
    return meta, (_read_npz(data) if data else {})


def _read_npz(data: bytes) -> dict:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_DATA:
                raise ExchangeError(f"its arrays unpack to over {MAX_DATA >> 20} MB")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: np.array(npz[name]) for name in npz.files}
    except ExchangeError:
        raise
    except Exception as err:  # any malformed archive or array header
        raise ExchangeError(f"its arrays are unreadable ({type(err).__name__}: {err})") from None


def pack(value, prefix: str = "v") -> tuple[dict, dict]:
    """(description, arrays) of a value: a dict of arrays, an array, a float, or anything else.

    Runs in the process that owns ``value`` (the child for a student's result), so
    a student's object may do what it likes here: only what comes out is sent.
    """
    if isinstance(value, Mapping):
        keys = [k if isinstance(k, str) else repr(k) for k in value.keys()]
        arrays, kinds = {}, {}
        for i, (key, item) in enumerate(zip(keys, value.values())):
            array = as_plain_array(item)
            if array is None:
                kinds[key] = type(item).__name__
            else:
                arrays[f"{prefix}{i}"] = array
        return {"kind": "dict", "keys": keys, "not_arrays": kinds}, arrays
    if isinstance(value, (bool, int, float, np.number)) and not isinstance(value, np.ndarray):
        return {"kind": "float", "value": float(value)}, {}
    array = as_plain_array(value)
    if array is not None:
        return {"kind": "array", "type": type(value).__name__}, {f"{prefix}0": array}
    return {"kind": "other", "type": type(value).__name__}, {}


def as_plain_array(value):
    """A numeric base-class ndarray copy of ``value`` (subclass and lying arithmetic dropped), or None
    when ``value`` is not numbers (strings, objects)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        try:
            value = value.detach().cpu().numpy()
        except Exception:
            return None
    try:
        array = np.array(value, subok=False)
    except Exception:
        return None
    return array if array.dtype.kind in "biufc" else None


def unpack(description, arrays: dict, prefix: str = "v"):
    """The value ``pack`` described, rebuilt from plain arrays; ExchangeError when inconsistent.

    A dict entry that was not an array comes back as an opaque object whose type
    name is the one the child reported, so the report can say what was returned.
    """
    if not isinstance(description, dict):
        raise ExchangeError("a value without a description")
    kind = description.get("kind")
    if kind == "dict":
        return _unpack_dict(description, arrays, prefix)
    if kind == "array" and f"{prefix}0" in arrays:
        return arrays[f"{prefix}0"]
    if kind == "float" and isinstance(description.get("value"), (int, float)):
        return float(description["value"])
    if kind == "other":
        return opaque(description.get("type"))
    raise ExchangeError(f"an inconsistent {kind!r} value")


def _unpack_dict(description: dict, arrays: dict, prefix: str) -> dict:
    keys, not_arrays = description.get("keys"), description.get("not_arrays")
    if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
            or not isinstance(not_arrays, dict) or len(keys) > MAX_ENTRIES):
        raise ExchangeError("a dict without a list of string keys")
    out = {}
    for i, key in enumerate(keys):
        if f"{prefix}{i}" in arrays:
            out[key] = arrays[f"{prefix}{i}"]
        elif key in not_arrays:
            out[key] = opaque(not_arrays[key])
        else:
            raise ExchangeError(f"a dict whose entry {key!r} is missing")
    return out


def opaque(type_name) -> object:
    """A stand-in for a value the child could not send as an array, named after its type."""
    name = str(type_name)[:60] if type_name else "object"
    return type(name, (), {"__repr__": lambda self: f"<{name} returned by the student>"})()


def type_name(description) -> str:
    """What kind of value a description stands for, in words for a message."""
    kind = description.get("kind") if isinstance(description, dict) else None
    if kind == "other" or (kind == "array" and description.get("type") not in (None, "ndarray")):
        return str(description.get("type"))[:60]
    if not isinstance(kind, str):  # no description, or JSON whose kind is not a name
        return "nothing readable"
    return {"dict": "a dict", "array": "an array", "float": "a number"}.get(kind, "nothing readable")
