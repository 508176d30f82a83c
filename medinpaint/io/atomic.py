"""Atomic writes: a result appears complete or not at all, and never replaces a file unasked."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from medinpaint.errors import MedinpaintError

__all__ = ["atomic_write", "atomic_write_bytes", "check_output_path"]


def check_output_path(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse an existing output unless ``overwrite``; refuse a missing parent folder.

    Raises:
        MedinpaintError: the output exists (and not ``overwrite``) or its folder does not exist.

    Example:
        >>> check_output_path("/tmp/medinpaint-doctest-not-there.png").name
        'medinpaint-doctest-not-there.png'
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise MedinpaintError(f"output {path} exists: pass --overwrite or choose another path")
    if not path.parent.is_dir():
        raise MedinpaintError(f"output folder {path.parent} does not exist: create it first")
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then move it into place.

    ``tmp`` keeps the suffix of ``path`` (writers may infer the format from it) and may be a file
    or a folder; on any error it is removed and ``path`` is untouched.

    Args:
        path: final file or folder.
        write: writes the whole result to the path it is given.
        overwrite: replace an existing ``path``.

    Returns:
        ``path``.

    Raises:
        MedinpaintError: see :func:`check_output_path`.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(out, lambda tmp: tmp.write_text("hi")).read_text()
        'hi'
    """
    path = check_output_path(path, overwrite)
    suffix = "".join(path.suffixes)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp{suffix}"
    try:
        write(tmp)
        if path.is_dir() and not path.is_symlink():
            old = path.parent / f".{path.name}.{uuid.uuid4().hex}.old"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()
    return path


def atomic_write_bytes(path: str | os.PathLike, data: str | bytes, overwrite: bool = False) -> Path:
    """Write text (UTF-8) or bytes to ``path`` atomically (see :func:`atomic_write`).

    Example:
        >>> import tempfile
        >>> atomic_write_bytes(Path(tempfile.mkdtemp()) / "a.txt", "hi").read_text()
        'hi'
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(payload), overwrite)
