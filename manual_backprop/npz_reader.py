"""Reading an ``.npz`` file that may be damaged or crafted: every size is checked before it is read.

``np.load`` trusts its file: it inflates a member whole before looking at
it, and a bad byte surfaces as whatever ``zipfile`` or the ``.npy`` parser
happen to raise. This reader is for files from anywhere. Every problem with
the bytes is a ``DamagedFileError`` (a ValueError) saying what is wrong and naming the
array where there is one; ``persistence`` adds the file's name.

What it reads, in order, and the limit that holds at each step:

- the end-of-directory record: at most ``MAX_DIRECTORY_BYTES`` of central
  directory, so the ``ZipInfo`` objects zipfile then builds stay small;
- the directory: every member ``<key>.npy``, no key twice, not encrypted,
  stored or deflated; a stored member's bytes lie inside the file, and a
  deflated one inflates to at most ``DEFLATE_MAX_RATIO`` times its
  compressed size, so the arrays never take more than that many times the
  file's own size (a zip bomb is refused from its directory);
- an ``.npy`` header: at most ``MAX_HEADER_BYTES``, no Python objects (never
  unpickled), and the member's declared size exactly what the header's shape
  and dtype need;
- the data: exactly that many bytes, read only after the caller has checked
  the header (``read`` takes the header back), with zipfile's CRC-32 checked.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import numpy as np

MAX_DIRECTORY_BYTES = 1 << 20  # a net of 1000 layers has 2001 entries of ~60 bytes
MAX_HEADER_BYTES = 10_000  # NumPy's own default limit for an .npy header
DEFLATE_MAX_RATIO = 16  # random float weights barely compress (np.savez_compressed: ~1.1:1); zeros do 1000:1
NPY_MAGIC = b"\x93NUMPY"
END_RECORD = struct.Struct("<4s4H2LH")  # signature, disks, entries ×2, directory size and offset, comment
ZIP64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, offset of the zip64 end record, disks
ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")  # signature, size, versions, disks, entries ×2, size, offset

# What zipfile, zlib and the .npy parser raise on bad bytes (ValueError covers UnicodeDecodeError).
BAD_BYTES = (zipfile.BadZipFile, zlib.error, EOFError, OSError, struct.error, NotImplementedError,
             RuntimeError, ValueError, OverflowError, SyntaxError)


class DamagedFileError(ValueError):
    """The bytes are not a readable ``.npz``, or break one of the limits above."""


@dataclass(frozen=True)
class Header:
    """An ``.npy`` member's header: the array it declares, and where its data starts."""

    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    data_offset: int  # bytes of magic, length and header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: no overflow


@contextmanager
def bad_bytes_are_damage(what: str):
    """Turn the zoo of exceptions that bad bytes cause into one DamagedFileError naming ``what``."""
    try:
        yield
    except DamagedFileError:
        raise
    except BAD_BYTES as err:
        raise DamagedFileError(f"{what} is damaged ({type(err).__name__}: {err})") from None


class NpzReader:
    """The members of an open ``.npz`` file ``f`` of ``size`` bytes, by key (the name without ``.npy``)."""

    def __init__(self, f, size: int):
        self.size = size
        f.seek(0)
        if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
            raise DamagedFileError("holds a single .npy array, not an .npz archive of arrays")
        with bad_bytes_are_damage("the zip directory"):
            check_end_record(f, size)
            self.zip = zipfile.ZipFile(f)
            self.members = self._index(self.zip.infolist())
        self.streams: dict[str, IO[bytes]] = {}  # key -> the member, opened by header() and positioned at its data

    def _index(self, infos) -> dict[str, zipfile.ZipInfo]:
        members = {}
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise DamagedFileError(f"member {name!r} is not an .npy array (an .npz holds only <key>.npy)")
            key = name[:-len(".npy")]
            if key in members:
                raise DamagedFileError(f"holds array {key!r} twice; refusing to choose one")
            check_member(key, info, self.size)
            members[key] = info
        return members

    def header(self, key: str) -> Header:
        """The header of array ``key``, checked against the member's declared size; no data is read.

        The member stays open, positioned at its data, for ``read``.
        """
        info = self.members[key]
        with bad_bytes_are_damage(f"array {key!r}"):
            stream = self.zip.open(info)
            self.streams[key] = stream
            magic = read_exactly(stream, len(NPY_MAGIC) + 2, key)
            version = np.lib.format.read_magic(io.BytesIO(magic))
            if version not in ((1, 0), (2, 0)):
                raise DamagedFileError(f"array {key!r} has .npy format version {version}; 1.0 and 2.0 are read")
            length_bytes = read_exactly(stream, 2 if version == (1, 0) else 4, key)
            length = int.from_bytes(length_bytes, "little")
            if length > MAX_HEADER_BYTES:
                raise DamagedFileError(f"array {key!r} declares a header of {length} bytes; "
                             f"at most {MAX_HEADER_BYTES} are read")
            shape, fortran_order, dtype = parse_header(version, length_bytes, read_exactly(stream, length, key))
        if dtype.hasobject:
            raise DamagedFileError(f"array {key!r} cannot be read without pickle (it holds Python objects); "
                         f"refusing to unpickle")
        header = Header(shape, dtype, fortran_order, len(magic) + len(length_bytes) + length)
        declared = info.file_size - header.data_offset
        if declared != header.nbytes:
            raise DamagedFileError(f"array {key!r} declares shape {shape} of {dtype}, {header.nbytes} bytes, "
                         f"but the archive holds {declared} bytes of data for it")
        return header

    def read(self, key: str, header: Header) -> np.ndarray:
        """Array ``key`` (read-only) after its ``header``: exactly ``header.nbytes`` bytes, CRC-checked by zipfile."""
        with bad_bytes_are_damage(f"array {key!r}"), self.streams.pop(key) as stream:
            data = read_exactly(stream, header.nbytes, key)
            if stream.read(1):
                raise DamagedFileError(f"array {key!r} has bytes after its data")
        return np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran_order else "C")

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


CANONICAL_HEADER = re.compile(  # what np.save writes: keys sorted, shape a tuple, space padding
    r"\{'descr': '([<>|][a-zA-Z]\d{0,12})', 'fortran_order': (False|True), "
    r"'shape': \(((?:\d{1,20}, )*(?:\d{1,20},?)?)\), \} *\n")


def parse_header(version: tuple, length_bytes: bytes, header: bytes) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran_order, dtype) of an .npy header: np.save's own form by a strict pattern, else NumPy's parser."""
    match = CANONICAL_HEADER.fullmatch(header.decode("latin1"))
    if match is None:  # another writer's layout: NumPy's parser (ast.literal_eval), on the length-checked header
        parse = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                 else np.lib.format.read_array_header_2_0)
        return parse(io.BytesIO(length_bytes + header))
    descr, fortran, shape = match.groups()
    try:
        dtype = np.dtype(descr)
    except TypeError as err:  # "data type not understood"
        raise ValueError(f"bad dtype {descr!r} ({err})") from None
    return tuple(int(n) for n in shape.split(",") if n.strip()), fortran == "True", dtype


def check_end_record(f, size: int) -> None:
    """The end-of-directory record sits at the very end (no comment) and announces a small directory."""
    if size < END_RECORD.size:
        raise DamagedFileError(f"is not an .npz file written by MLP.save: {size} bytes, too short for a zip archive")
    f.seek(size - END_RECORD.size)
    signature, *_, n_entries, directory_size, directory_offset, comment = END_RECORD.unpack(f.read(END_RECORD.size))
    if signature != b"PK\x05\x06" or comment:
        raise DamagedFileError("is not an .npz file written by MLP.save: no zip end-of-directory record at its end")
    if 0xFFFF == n_entries or 0xFFFFFFFF in (directory_size, directory_offset):  # the values are in a zip64 record
        at = size - END_RECORD.size - ZIP64_LOCATOR.size
        f.seek(max(at, 0))
        signature, _, record_offset, _ = ZIP64_LOCATOR.unpack(f.read(ZIP64_LOCATOR.size))
        if signature != b"PK\x06\x07" or record_offset > at:
            raise DamagedFileError("has a damaged zip64 end-of-directory locator")
        f.seek(record_offset)
        record = ZIP64_END_RECORD.unpack(f.read(ZIP64_END_RECORD.size))
        if record[0] != b"PK\x06\x06":
            raise DamagedFileError("has a damaged zip64 end-of-directory record")
        directory_size, directory_offset = record[-2:]
    if directory_size > MAX_DIRECTORY_BYTES:
        raise DamagedFileError(f"declares a zip directory of {directory_size} bytes; at most {MAX_DIRECTORY_BYTES} are read")
    if directory_offset + directory_size > size:
        raise DamagedFileError(f"declares a zip directory past its end ({size} bytes)")


def check_member(key: str, info: zipfile.ZipInfo, size: int) -> None:
    """A member zipfile can read whose declared sizes the file can back (see the module docstring)."""
    if info.flag_bits & 0x1:
        raise DamagedFileError(f"array {key!r} is encrypted")
    if info.header_offset + info.compress_size > size:
        raise DamagedFileError(f"array {key!r} declares {info.compress_size} bytes at offset {info.header_offset}, "
                     f"past the end of the file ({size} bytes)")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise DamagedFileError(f"array {key!r} is stored uncompressed but declares {info.compress_size} bytes "
                         f"stored for {info.file_size} bytes of data")
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 4096:  # + a small array's header and data
            raise DamagedFileError(f"array {key!r} declares {info.file_size} bytes inflated from {info.compress_size}, "
                         f"more than the {DEFLATE_MAX_RATIO}:1 this reader accepts (a zip bomb?)")
    else:
        raise DamagedFileError(f"array {key!r} uses zip compression method {info.compress_type}; "
                     f"only stored (0, as MLP.save writes) and deflated (8, np.savez_compressed) are read")


def read_exactly(stream, n: int, key: str) -> bytes:
    """``n`` bytes of member ``key``, or DamagedFileError if it ends first."""
    data = stream.read(n)
    if len(data) != n:
        raise DamagedFileError(f"array {key!r} ends after {len(data)} of {n} bytes")
    return data
