"""Device choice: CUDA when present, else CPU; a user can force either."""

from __future__ import annotations

import torch

from medinpaint.errors import MedinpaintError

__all__ = ["pick_device"]


def pick_device(name: str | None = None) -> torch.device:
    """Return the device to run on.

    Args:
        name: ``"cuda"``, ``"cuda:1"``, ``"cpu"`` or ``None``/``"auto"`` for CUDA when available.

    Raises:
        MedinpaintError: not a CPU or CUDA device, or CUDA was asked for but is not available.

    Example:
        >>> pick_device("cpu")
        device(type='cpu')
    """
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise MedinpaintError(f"unknown device {name!r}: use --device auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MedinpaintError(f"device {name!r} asked for but CUDA is not available: use --device cpu")
    return device
