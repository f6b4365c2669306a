"""Headless Chromium for the report's page tests: a screenshot, the DOM after the page's script ran,
and a PNG decoder (standard library) to look at the screenshot's pixels.

Chromium comes from the distribution (``apt-get install chromium``; ``.ci/run``
installs it when missing and it runs as root). ``CHROMIUM`` is None when there
is none; the tests then skip and say so.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(n)), None)
NO_CHROMIUM = "headless Chromium is not installed (apt-get install chromium)"


def _run(args: list, timeout: float = 90) -> subprocess.CompletedProcess:
    """Chromium headless with a profile of its own (tests run in parallel), no sandbox when root."""
    assert CHROMIUM is not None, NO_CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        command = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                   "--disable-extensions", f"--user-data-dir={profile}", *args]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to start as root with its sandbox
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def screenshot(page: Path, out: Path, width: int = 1000, height: int = 1400) -> Path:
    """A PNG of the page's top ``width`` × ``height`` pixels."""
    result = _run([f"--window-size={width},{height}", f"--screenshot={out}", page.resolve().as_uri()])
    if not out.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot: {result.stderr[-2000:]}")
    return out


def dump_dom(page: Path, fragment: str = "") -> str:
    """The page's DOM once loaded and its script run, as HTML; ``fragment``: "#..." added to its address."""
    result = _run(["--dump-dom", page.resolve().as_uri() + fragment])
    if "<html" not in result.stdout:
        raise RuntimeError(f"Chromium dumped no DOM: {result.stderr[-2000:]}")
    return result.stdout


def read_png(path: Path) -> tuple:
    """(width, height, channels, rows): an 8-bit grey/RGB/RGBA PNG's pixels, rows of bytes."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    assert header is not None, "no IHDR chunk"
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: only 8-bit, non-interlaced grey/RGB/RGBA PNGs are read here")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows: list = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, channels)
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def _unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> None:
    """Undo one row's PNG filter in place (filters 0-4 of the PNG specification)."""
    if kind == 0:
        return
    if kind == 2:
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, up))
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up[i]) >> 1)) & 0xFF
        elif kind == 4:
            corner = up[i - bpp] if i >= bpp else 0
            p = left + up[i] - corner
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")


def colours(path: Path, step: int = 2) -> dict:
    """(r, g, b) -> how many of every ``step``-th pixel of every ``step``-th row have it."""
    width, _, channels, rows = read_png(path)
    counts: dict = {}
    for row in rows[::step]:
        for x in range(0, width * channels, channels * step):
            rgb = tuple(row[x:x + 3]) if channels >= 3 else (row[x],) * 3
            counts[rgb] = counts.get(rgb, 0) + 1
    return counts

