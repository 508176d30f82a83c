"""``.npz`` files of metric models: atomic writing (via :func:`medinpaint.io.atomic.atomic_write`) and checked reading."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write

__all__ = ["save_npz_atomic", "load_npz"]


def save_npz_atomic(path: str | os.PathLike, overwrite: bool = False, **arrays: np.ndarray) -> Path:
    """Write ``arrays`` to ``path`` (.npz) atomically; refuse to replace a file unless ``overwrite``.

    Args:
        path: destination; must end in ``.npz``.
        overwrite: replace an existing file.
        arrays: named arrays to store.

    Returns:
        The destination path.

    Raises:
        MedinpaintError: wrong suffix, or the file exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise MedinpaintError(f"{path} must end in .npz: name the model file like 'model.npz'")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: np.savez(tmp, **arrays), overwrite)


def load_npz(path: str | os.PathLike, required: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """Read an ``.npz`` and check it holds ``required`` arrays.

    Args:
        path: file to read.
        required: array names that must be present.
        what: what the file should be, for the error message (e.g. "NIQE model").

    Returns:
        Dict of every array in the file.

    Raises:
        MedinpaintError: missing or unreadable file, or missing arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise MedinpaintError(f"{what} file {path} not found: give the path of an existing .npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise MedinpaintError(f"{path} is not a readable .npz ({err}): rewrite it with the save function") from err
    missing = [name for name in required if name not in arrays]
    if missing:
        raise MedinpaintError(f"{path} is not a valid {what}: arrays {missing} are missing")
    return arrays
