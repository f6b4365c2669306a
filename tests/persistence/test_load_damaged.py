"""MLP.load on damaged and crafted files: a ValueError naming the file (and the array), never anything else.

Three kinds of file:

- every single-bit flip and every truncation of a small saved net: each
  loads bit-exactly the saved net, or is a ValueError naming the file;
- crafted files (a duplicate member, a pickled config, a foreign member, …):
  a ValueError naming the file and the array;
- bombs (a zip that inflates 1000-fold, a config asking for a huge net, a
  header declaring 10¹² entries, a config nested 100,000 deep): refused
  within 1 s, with less than 100 MB allocated (``tracemalloc``, which sees
  NumPy's array buffers too; the first test shows it does).
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pytest

from helpers.zip_craft import DEFLATED, config_array, deflated_zeros, members_of, npy_bytes, npy_header, stored, zip_bytes
from manual_backprop import MLP
from manual_backprop.npz_reader import END_RECORD, ZIP64_END_RECORD, ZIP64_LOCATOR

MB = 1 << 20
GiB = 1 << 30
SEED_NET = MLP([4, 16, 2], seed=0)  # the net config_array() describes


def refused(path, *fragments, seconds=1.0, megabytes=100):
    """MLP.load(path) raises a ValueError naming the file and each fragment, within the time and memory given."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError) as info:
            MLP.load(path)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(f"{path}: "), f"the error does not name the file first: {message}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert elapsed < seconds, f"refused after {elapsed:.2f} s"
    assert peak < megabytes * MB, f"allocated {peak / MB:.0f} MB before refusing"
    return message


def test_the_memory_meter_sees_numpy_arrays():
    """The 100 MB bound below is real: tracemalloc counts NumPy's buffers."""
    tracemalloc.start()
    a = np.ones(15_000_000)  # 120 MB
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del a
    assert peak >= 100 * MB


def saved_bytes(net, tmp_path) -> bytes:
    net.save(tmp_path / "source.npz")
    return (tmp_path / "source.npz").read_bytes()


def identical(back, net) -> bool:
    return (repr(back) == repr(net) and list(back.params) == list(net.params)
            and all(back.params[k].dtype == p.dtype and back.params[k].shape == p.shape
                    and back.params[k].tobytes() == p.tobytes() for k, p in net.params.items()))


def small_net():
    """A one-layer net: its 1.4 KB file (11,504 bits) has every kind of part a deeper net's has.

    The config, a W and a b, each a zip member with its .npy header, and the zip
    directory; a deeper net repeats these (MLP([2, 3, 1]) takes 16,112 flips,
    half as long again).
    """
    net = MLP([1, 1], activation="tanh", seed=7)
    net.params["W_O"][:] = -1.5  # a value the seed did not draw
    return net


def test_every_single_bit_flip_loads_the_net_or_names_the_file(tmp_path):
    net = small_net()
    good = saved_bytes(net, tmp_path)
    path = tmp_path / "flipped.npz"
    path.write_bytes(good)
    wrong, loaded = [], 0
    fd = os.open(path, os.O_WRONLY)
    try:
        for bit in range(8 * len(good)):
            at = bit // 8
            os.pwrite(fd, bytes([good[at] ^ (1 << bit % 8)]), at)
            try:
                back = MLP.load(path)
            except ValueError as err:
                if not str(err).startswith(f"{path}: "):
                    wrong.append((bit, repr(err)))
            except Exception as err:  # noqa: BLE001 — any other type is what this test is for
                wrong.append((bit, repr(err)))
            else:
                loaded += 1
                if not identical(back, net):
                    wrong.append((bit, f"loaded a different net: {back!r}"))
            os.pwrite(fd, good[at:at + 1], at)
    finally:
        os.close(fd)
    assert not wrong, f"{len(wrong)} of {8 * len(good)} flips: {wrong[:5]}"
    assert 0 < loaded < 8 * len(good) // 4, f"{loaded} flips loaded (bytes the reader ignores, e.g. timestamps)"


def test_every_truncation_names_the_file(tmp_path):
    good = saved_bytes(small_net(), tmp_path)
    path = tmp_path / "cut.npz"
    path.write_bytes(good)
    wrong = []
    fd = os.open(path, os.O_WRONLY)
    try:
        for length in reversed(range(len(good))):  # every proper prefix, the empty one last
            os.ftruncate(fd, length)
            try:
                MLP.load(path)
            except ValueError as err:
                if not str(err).startswith(f"{path}: "):
                    wrong.append((length, repr(err)))
            except Exception as err:  # noqa: BLE001
                wrong.append((length, repr(err)))
            else:
                wrong.append((length, "loaded"))
    finally:
        os.close(fd)
    assert not wrong, f"{len(wrong)} of {len(good)} truncations: {wrong[:5]}"


def write(tmp_path, members, name="crafted.npz", **kwargs):
    path = tmp_path / name
    path.write_bytes(zip_bytes(members, **kwargs))
    return path


def seed_members(**replace):
    """The members of the seed net's file; ``replace`` swaps arrays (None drops one)."""
    arrays = {"config": config_array(), **SEED_NET.params, **replace}
    return members_of({k: v for k, v in arrays.items() if v is not None})


def test_crafted_seed_file_loads(tmp_path):
    """The writer behind the crafted files below writes a loadable file when it crafts nothing."""
    assert identical(MLP.load(write(tmp_path, seed_members())), SEED_NET)


# ------------------------------------------------------------------ bombs


def test_zip_bomb_is_refused_from_its_directory(tmp_path):
    """3 MB of deflate that inflates to 3 GiB in place of W_H (np.load inflated it whole: 3.1 GiB, 15 s)."""
    bomb = deflated_zeros("W_H.npy", npy_header((16, 4)), 3 * GiB)
    members = [bomb if m.name == "W_H.npy" else m for m in seed_members()]
    path = write(tmp_path, members)
    assert path.stat().st_size < 4 * MB
    refused(path, "array 'W_H'", "inflated from", "zip bomb")


def test_zip_bomb_under_a_lying_directory_is_read_only_as_far_as_declared(tmp_path):
    """The same 3 GiB stream, its directory declaring W_H's true 640 bytes: inflating stops there (CRC fails)."""
    bomb = deflated_zeros("W_H.npy", npy_header((16, 4)), 3 * GiB)
    bomb.file_size = len(npy_header((16, 4))) + 16 * 4 * 8
    members = [bomb if m.name == "W_H.npy" else m for m in seed_members()]
    refused(write(tmp_path, members), "array 'W_H'", "CRC")


@pytest.mark.parametrize("with_headers", [False, True], ids=["seed-arrays", "headers-without-data"])
def test_config_asking_for_a_huge_net_is_refused_before_any_array(tmp_path, with_headers):
    """A 3 KB file whose config says sizes [4, 12000, 12000, 2] (2.2 GiB, 5 s when the net was drawn first)."""
    config = config_array(sizes=[4, 12000, 12000, 2])
    if with_headers:  # the right names and declared shapes, but no data behind them
        shapes = {"W_H1": (12000, 4), "b_H1": (12000, 1), "W_H2": (12000, 12000), "b_H2": (12000, 1),
                  "W_O": (2, 12000), "b_O": (2, 1)}
        members = members_of({"config": config}) + [stored(f"{k}.npy", npy_header(s)) for k, s in shapes.items()]
        fragments = ("array 'W_H1' declares shape (12000, 4)", "the archive holds 0 bytes")
    else:
        members = seed_members(config=config)
        fragments = ("unexpected array(s) ['W_H', 'b_H']",)
    path = write(tmp_path, members)
    assert path.stat().st_size < 4000
    refused(path, *fragments)


@pytest.mark.parametrize("sizes,key,fragments", [
    pytest.param([4, 16, 2], "W_H", ("array 'W_H' declares shape (1000000, 1000000)", "8000000000000 bytes"),
                 id="seed-config"),
    pytest.param([10**6, 10**6], "W_O", ("sizes [1000000, 1000000] make a net of 1,000,001,000,000 parameters",),
                 id="config-agrees"),  # the config itself asks for too much: refused before any header
])
def test_header_declaring_a_trillion_entries_is_refused_unread(tmp_path, sizes, key, fragments):
    arrays = {"config": config_array(sizes=sizes)}
    members = members_of(arrays) + [stored(f"{key}.npy", npy_header((10**6, 10**6)))]
    if key == "W_H":
        members += members_of({k: v for k, v in SEED_NET.params.items() if k != "W_H"})
    else:
        members += [stored("b_O.npy", npy_header((10**6, 1)))]
    refused(write(tmp_path, members), *fragments)


@pytest.mark.parametrize("depth,fragment", [(100_000, "'config' is a string of 200000 characters"),
                                            (30_000, "'config' nests deeper than 4 levels")])
def test_deeply_nested_config_is_refused_without_recursing(tmp_path, depth, fragment):
    """100,000 levels gave RecursionError; under the length limit the depth limit still holds."""
    nested = np.array("[" * depth + "]" * depth)
    refused(write(tmp_path, seed_members(config=nested)), fragment)


def test_huge_zip_directory_is_refused_before_zipfile_parses_it(tmp_path):
    refused(write(tmp_path, seed_members(), directory_size=64 * MB), "zip directory of 67108864 bytes")


# ------------------------------------------------------------------ crafted files


def test_empty_file(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    refused(tmp_path / "empty.npz", "0 bytes, too short for a zip archive")


def test_duplicate_member_is_refused_not_chosen(tmp_path):
    """A second W_H (np.load silently took the second copy)."""
    members = seed_members() + members_of({"W_H": np.zeros((16, 4))})
    refused(write(tmp_path, members), "holds array 'W_H' twice")


def test_member_that_is_not_npy(tmp_path):
    members = seed_members() + [stored("notes.txt", b"trained on Tuesday")]
    refused(write(tmp_path, members), "member 'notes.txt' is not an .npy array")


def test_pickled_config_is_never_unpickled(tmp_path):
    config = np.empty((), dtype=object)
    config[()] = {"format": "manual_backprop.MLP"}
    refused(write(tmp_path, seed_members(config=config)), "array 'config' cannot be read without pickle")


def test_config_of_code_points_beyond_unicode(tmp_path):
    payload = npy_header((), "<U2") + b"\xff\xff\xff\xff" * 2
    members = [stored("config.npy", payload)] + members_of(SEED_NET.params)
    refused(write(tmp_path, members), "'config' is not valid text")


def test_config_with_an_integer_of_5000_digits(tmp_path):
    text = str(config_array()).replace('"seed": 0', '"seed": ' + "9" * 5000)  # beyond int()'s 4300 digits
    refused(write(tmp_path, seed_members(config=np.array(text))), "'config' is not valid JSON")


@pytest.mark.parametrize("change,fragment", [
    (dict(flags=1), "array 'W_H' is encrypted"),
    (dict(method=14), "array 'W_H' uses zip compression method 14"),
    (dict(file_size=10), "array 'W_H' is stored uncompressed but declares"),
], ids=["encrypted", "lzma", "stored-size-mismatch"])
def test_member_zipfile_would_mishandle(tmp_path, change, fragment):
    members = seed_members()
    for key, value in change.items():
        setattr(members[1], key, value)
    refused(write(tmp_path, members), fragment)


def test_member_declaring_more_data_than_its_header_needs(tmp_path):
    members = seed_members()
    w_h = npy_bytes(SEED_NET.params["W_H"]) + bytes(8)
    members[1] = stored("W_H.npy", w_h)
    refused(write(tmp_path, members), "array 'W_H' declares shape (16, 4) of float64, 512 bytes",
            "holds 520 bytes")


def test_member_past_the_end_of_the_file(tmp_path):
    members = seed_members()
    path = write(tmp_path, members)
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the last member's entry (b_O) in the directory
    data[central + 20:central + 28] = (10**9).to_bytes(4, "little") * 2  # its compressed and full sizes
    path.write_bytes(bytes(data))
    refused(path, "array 'b_O' declares 1000000000 bytes", "past the end of the file")


def test_header_too_long(tmp_path):
    header = b"\x93NUMPY\x02\x00" + (20_000).to_bytes(4, "little") + b" " * 20_000
    members = seed_members()
    members[1] = stored("W_H.npy", header)
    refused(write(tmp_path, members), "array 'W_H' declares a header of 20000 bytes")


def test_big_endian_array_is_refused_by_its_byte_order(tmp_path):
    refused(write(tmp_path, seed_members(W_H=SEED_NET.params["W_H"].astype(">f8"))),
            "array 'W_H' has dtype >f8; the config says float64")


# ------------------------------------------------------------------ still accepted


def test_compressed_file_loads_bit_exactly(tmp_path):
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, config=config_array(), **SEED_NET.params)
    with np.load(path) as f:  # the premise: np.savez_compressed did deflate
        assert f.zip.getinfo("W_H.npy").compress_type == DEFLATED
    assert identical(MLP.load(path), SEED_NET)


def zip64_end(archive: bytes, locator_offset_delta: int = 0) -> bytes:
    """``archive`` with its end record moved into a zip64 one, as zipfile writes for an archive past 4 GiB."""
    body, end = archive[:-END_RECORD.size], END_RECORD.unpack(archive[-END_RECORD.size:])
    n, directory_size, directory_offset = end[4], end[5], end[6]
    record = ZIP64_END_RECORD.pack(b"PK\x06\x06", ZIP64_END_RECORD.size - 12, 45, 45, 0, 0, n, n,
                                   directory_size, directory_offset)
    locator = ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, len(body) + locator_offset_delta, 1)
    markers = END_RECORD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + record + locator + markers


def test_zip64_end_record_is_followed(tmp_path):
    path = tmp_path / "zip64.npz"
    path.write_bytes(zip64_end(zip_bytes(seed_members())))
    assert identical(MLP.load(path), SEED_NET)


def test_zip64_locator_pointing_elsewhere(tmp_path):
    path = tmp_path / "zip64.npz"
    path.write_bytes(zip64_end(zip_bytes(seed_members()), locator_offset_delta=-8))
    refused(path, "damaged zip64 end-of-directory record")


def test_fortran_ordered_array_loads_with_its_values(tmp_path):
    w_h = np.asfortranarray(SEED_NET.params["W_H"])
    path = write(tmp_path, seed_members(W_H=w_h))
    assert b"'fortran_order': True" in path.read_bytes()  # the premise
    assert identical(MLP.load(path), SEED_NET)

