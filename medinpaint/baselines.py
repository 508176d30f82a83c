"""Classical inpainting baselines on exactly the inputs medinpaint gets.

Three methods fill the missing pixels of images (N, C, H, W) in [-1, 1] given ``known``
(N, 1, H, W, 1 = known, 0 = missing):

- ``"biharmonic"``: :func:`skimage.restoration.inpaint_biharmonic` in float64, colour channels
  jointly; its fill may overshoot slightly and is clipped to [-1, 1].
- ``"telea"`` (Telea 2004) and ``"navier-stokes"`` (Bertalmio et al. 2001): :func:`cv2.inpaint`,
  radius 3, which takes 8-bit images only. Values are quantised as
  ``round((x + 1) · 127.5)`` → 0…255 and mapped back by ``v / 127.5 − 1``, so the fill lives on a
  grid of step 2/255 ≈ 0.0078 (at most 1/255 ≈ 0.0039 from the value the float image would give).

For every method the known pixels of the result are copied back from the input, bit-exact; the
values the input holds inside the hole are never read. The input is not modified.
"""

from __future__ import annotations

import difflib

import cv2
import numpy as np
import torch
from skimage.restoration import inpaint_biharmonic

from medinpaint.errors import MedinpaintError

__all__ = ["BASELINES", "inpaint_baseline"]

BASELINES = ("biharmonic", "telea", "navier-stokes")
_CV2_FLAGS = {"telea": cv2.INPAINT_TELEA, "navier-stokes": cv2.INPAINT_NS}
CV2_RADIUS = 3


def _check_name(name: str) -> None:
    if name not in BASELINES:
        close = difflib.get_close_matches(str(name).lower().replace("_", "-"), BASELINES, n=1, cutoff=0.3)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise MedinpaintError(f"unknown baseline {name!r}: {hint}choose one of {', '.join(BASELINES)}")


def _check_inputs(images: torch.Tensor, known: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise MedinpaintError(f"images must be a tensor (N, C, H, W) with C = 1 or 3, got {shape}")
    n, _, h, w = images.shape
    if not isinstance(known, torch.Tensor) or tuple(known.shape) != (n, 1, h, w):
        shape = tuple(known.shape) if isinstance(known, torch.Tensor) else type(known).__name__
        raise MedinpaintError(f"known mask must be a tensor (N, 1, H, W) = {(n, 1, h, w)}, got {shape}")
    empty = [i for i in range(n) if not bool((known[i] > 0.5).any())]
    if empty:
        raise MedinpaintError(f"mask leaves no known pixel in image(s) {empty}: keep part of each image known")


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((image + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _fill_one(name: str, image: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill one (H, W, C) float64 image where ``missing`` (H, W) bool is true → (H, W, C) float64."""
    if name == "biharmonic":
        return np.clip(inpaint_biharmonic(image, missing, channel_axis=-1), -1.0, 1.0)
    source = _to_uint8(image)
    source = source[..., 0] if source.shape[-1] == 1 else np.ascontiguousarray(source)
    filled = cv2.inpaint(source, missing.astype(np.uint8), CV2_RADIUS, _CV2_FLAGS[name])
    return filled.reshape(image.shape).astype(np.float64) / 127.5 - 1.0


def inpaint_baseline(name: str, images: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill the missing pixels with a classical method.

    Args:
        name: one of :data:`BASELINES`: ``"biharmonic"``, ``"telea"``, ``"navier-stokes"``.
        images: (N, C, H, W) float tensor in [-1, 1], C = 1 or 3.
        known: (N, 1, H, W) float tensor, 1 = known, 0 = missing.

    Returns:
        A new tensor like ``images`` (same dtype and device): input values on known pixels, the
        method's fill on missing ones.

    Raises:
        MedinpaintError: unknown name (with a suggestion), bad shapes, or an image without any
            known pixel.

    Example:
        >>> images = torch.linspace(-1, 1, 64).repeat(1, 1, 64, 1)  # horizontal ramp
        >>> known = torch.ones(1, 1, 64, 64); known[..., 24:40, 24:40] = 0
        >>> out = inpaint_baseline("biharmonic", images, known)
        >>> bool(torch.equal(out[known.bool().expand_as(out)], images[known.bool().expand_as(images)]))
        True
        >>> float((out - images).abs().max()) < 1e-3
        True
    """
    _check_name(name)
    _check_inputs(images, known)
    keep = (known > 0.5).expand_as(images)
    array = images.detach().cpu().double().permute(0, 2, 3, 1).numpy()
    missing = ~keep[:, 0].cpu().numpy()
    filled = np.stack([_fill_one(name, image, hole) if hole.any() else image for image, hole in zip(array, missing)])
    fill = torch.from_numpy(filled).permute(0, 3, 1, 2).to(dtype=images.dtype, device=images.device)
    return torch.where(keep, images, fill)
