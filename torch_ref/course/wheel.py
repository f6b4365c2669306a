"""This project's own wheel, made from the code that is running, for the autograder to install.

    path = build_wheel(Path("autograder"))   # autograder/manual_backprop-0.1.0-py3-none-any.whl

A teacher who installed the project from a wheel has no source tree to build
from, and the project need not be published anywhere: the wheel is written
straight from the imported packages' folders (``manual_backprop`` and
``torch_ref``, every file but byte-code caches) and the installed
distribution's metadata (``METADATA``, with the running version and without
the long description; ``entry_points.txt``; the licence), with a fresh
``RECORD`` of sha256 hashes. It is pure Python (``py3-none-any``); pip
installs it with its dependency, NumPy, from the package index.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import zipfile
from importlib import metadata
from pathlib import Path

import manual_backprop

DISTRIBUTION = "manual-backprop"
PACKAGES = ("manual_backprop", "torch_ref")
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def build_wheel(folder: Path) -> Path:
    """Write the wheel into ``folder`` (created if needed) and return its path."""
    version = manual_backprop.__version__
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise RuntimeError(f"{DISTRIBUTION} is not installed, so its metadata (dependencies, the "
                           f"manual-backprop command) cannot be copied into the autograder's wheel; "
                           f"install it first: pip install -e . (from a checkout) or pip install manual-backprop") from None
    info = f"manual_backprop-{version}.dist-info"
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        root = Path(importlib.import_module(package).__file__ or "").parent
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not SKIPPED_DIRS & set(relative.parts) and path.suffix not in SKIPPED_SUFFIXES:
                files[f"{package}/{relative.as_posix()}"] = path.read_bytes()
    headers = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""  # PKG-INFO: an egg-info's
    files[f"{info}/METADATA"] = _metadata(headers, version).encode()
    entry_points = dist.read_text("entry_points.txt")
    if not entry_points:
        raise RuntimeError(f"the installed {DISTRIBUTION} has no entry_points.txt: reinstall it")
    files[f"{info}/entry_points.txt"] = entry_points.encode()
    for record in dist.files or ():
        if "licenses/" in record.as_posix() or record.name in ("LICENSE", "LICENSE.txt"):
            files[f"{info}/licenses/{record.name}"] = Path(str(record.locate())).read_bytes()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: manual-backprop assignment new\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record_lines = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record_lines + [f"{info}/RECORD,,"]) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"manual_backprop-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # the same bytes on every build
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return path


def _metadata(text: str, version: str) -> str:
    """The METADATA headers with ``Version`` set to the running one; the long description left out."""
    headers = text.split("\n\n", 1)[0].splitlines()
    if not any(h.startswith("Name:") for h in headers):
        raise RuntimeError(f"the installed {DISTRIBUTION}'s METADATA has no Name: reinstall it")
    kept = [f"Version: {version}" if h.startswith("Version:") else h for h in headers
            if not h.startswith("Description-Content-Type:")]
    return "\n".join(kept) + "\n"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
