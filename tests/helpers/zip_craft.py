"""Test helper: zip archives written byte by byte, so a test can say exactly what a crafted file declares.

``zipfile`` writes only honest archives (and warns on a duplicate name), so
the crafted files of ``test_persistence_damage`` are built here: each
member's name, stored bytes, compression method, declared sizes and CRC-32
are whatever the test gives.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass

import numpy as np

LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature, version, flags, method, time, date, crc, sizes, name, extra
CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")  # signature, versions, flags, method, time, date, crc, sizes, …, offset
END_RECORD = struct.Struct("<4s4H2LH")
STORED, DEFLATED = 0, 8


@dataclass
class Member:
    name: str
    data: bytes  # the bytes as stored in the archive (compressed when method is DEFLATED)
    file_size: int  # the uncompressed size the directory declares
    crc: int
    method: int = STORED
    flags: int = 0


def stored(name: str, payload: bytes) -> Member:
    return Member(name, payload, len(payload), zlib.crc32(payload))


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as np.save writes it."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=True)
    return buffer.getvalue()


def npy_header(shape, descr: str = "<f8") -> bytes:
    """Only the .npy header np.save would write for an array of ``shape`` and ``descr``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def config_array(**changes) -> np.ndarray:
    """The config of the seed's net, ``MLP([4, 16, 2], seed=0)``, with ``changes`` (None deletes a key)."""
    config = {"format": "manual_backprop.MLP", "version": 1, "sizes": [4, 16, 2], "activation": "sigmoid",
              "output_activation": "identity", "loss": "half_sse", "dtype": "float64", "seed": 0}
    config.update(changes)
    return np.array(json.dumps({k: v for k, v in config.items() if v is not None}))


def members_of(arrays: dict) -> list[Member]:
    """One stored member per array, as np.savez would write them."""
    return [stored(f"{key}.npy", npy_bytes(a)) for key, a in arrays.items()]


def zip_bytes(members: list[Member], directory_size: int | None = None) -> bytes:
    """A zip archive of ``members``; ``directory_size`` overrides what the end record declares."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        offset = len(out)
        out += LOCAL_HEADER.pack(b"PK\x03\x04", 20, m.flags, m.method, 0, 0x21, m.crc, len(m.data),
                                 m.file_size, len(name), 0) + name + m.data
        central += CENTRAL_HEADER.pack(b"PK\x01\x02", 20, 20, m.flags, m.method, 0, 0x21, m.crc, len(m.data),
                                       m.file_size, len(name), 0, 0, 0, 0, 0, offset) + name
    size = len(central) if directory_size is None else directory_size
    end = END_RECORD.pack(b"PK\x05\x06", 0, 0, len(members), len(members), size, len(out), 0)
    return bytes(out + central + end)


def deflated_zeros(name: str, head: bytes, n_zeros: int) -> Member:
    """A deflated member ``head`` + ``n_zeros`` zero bytes, built without ever holding the zeros.

    Deflate after a full flush starts afresh, so 1 MiB of zeros compresses to the
    same ~1 KB every time: the stream is that block repeated. The CRC is left 0:
    the reader must refuse these before it reads far enough to check one.
    """
    mib = 1 << 20
    assert n_zeros % mib == 0, "whole MiB of zeros"
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(mib)) + c.flush(zlib.Z_FULL_FLUSH)
    data = first + block * (n_zeros // mib) + c.flush()
    return Member(name, data, len(head) + n_zeros, 0, method=DEFLATED)
