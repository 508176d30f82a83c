"""Inpaint native slices in memory: native units in, native units out, known pixels bit-identical.

The one path from native slices to the generator and back, used by :func:`inpaint_file`, the
MONAI transforms and the benchmarks:

1. native -> [-1, 1] with the model's intensity map;
2. onto the 64×64 grid: ``grid="windows"`` cuts square windows at the scale of each hole
   (:mod:`medinpaint.windows`), ``grid="slices"`` squeezes each whole slice (the paper's and
   CelebA's protocol, the 0.1.0 behaviour);
3. ONE batched latent search over every window (or slice) and restart;
4. the fill estimate (best restart, or the mean of the restarts), mapped back to native
   resolution and units (windows: resized back and averaged where they overlap);
5. the exact Poisson blend at native resolution; known pixels are copied, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from medinpaint.checkpoint import LoadedModels
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting import SearchConfig, blend, latent_search
from medinpaint.transforms.array import IntensityToUnit, SquareResize, ToGrid
from medinpaint.windows import WindowConfig, crop_windows, hole_windows, paste_windows

__all__ = ["GRIDS", "NativeFill", "default_grid", "inpaint_native"]

GRIDS = ("windows", "slices")


@dataclass(frozen=True)
class NativeFill:
    """The result of :func:`inpaint_native` for N slices.

    Attributes:
        filled: (N, C, H, W) native units; known pixels bit-identical to the input.
        raw: (N, C, H, W) the generator's fill in native units (outside the windows: the input).
        uncertainty: (N, 1, H, W) spread of the fill over the restarts, native units, zero on known pixels.
        loss: (N,) final search objective, summed over a slice's windows.
        iterations: (N,) Adam steps, the most over a slice's windows.
        windows: grid images searched (windows, or slices).
    """

    filled: torch.Tensor
    raw: torch.Tensor
    uncertainty: torch.Tensor
    loss: torch.Tensor
    iterations: torch.Tensor
    windows: int


def default_grid(models: LoadedModels) -> str:
    """The grid a checkpoint was trained for: ``"windows"`` or ``"slices"``."""
    return "windows" if models.config.sampling == "windows" else "slices"


def inpaint_native(
    native: torch.Tensor,
    known: torch.Tensor,
    models: LoadedModels,
    intensity: IntensityToUnit,
    search: SearchConfig = SearchConfig(),
    *,
    grid: str = "windows",
    windowing: WindowConfig = WindowConfig(),
    estimate: str = "best",
    blend_method: str = "poisson",
    progress: bool = False,
) -> NativeFill:
    """Fill the missing pixels of native slices with the model's generator.

    Args:
        native: (N, C, H, W) float32 in native units; values at missing pixels are ignored.
        known: (N, 1, H, W) float, 1 = known, 0 = missing; every slice must miss something.
        models: G and D (:func:`medinpaint.checkpoint.load_models`).
        intensity: the native -> [-1, 1] map of the model's domain.
        search: latent-search settings.
        grid: ``"windows"`` around the holes or whole ``"slices"``.
        windowing: window settings (``grid="windows"``).
        estimate: ``"best"`` restart or ``"mean"`` of the restarts.
        blend_method: ``"poisson"`` (exact) or ``"sobel-adam"``.
        progress: show the search's progress bar.

    Raises:
        MedinpaintError: an unknown grid, a mask of another shape, or a slice with nothing missing.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> models = load_models(device="cpu")
        >>> native = torch.rand(1, 1, 90, 80) * 100
        >>> known = torch.ones(1, 1, 90, 80); known[..., 40:46, 30:36] = 0
        >>> fill = inpaint_native(native, known, models, IntensityToUnit(0, 100), SearchConfig(iterations=3))
        >>> bool(torch.equal(fill.filled[known.bool()], native[known.bool()])), fill.windows
        (True, 1)
    """
    if grid not in GRIDS:
        raise MedinpaintError(f"unknown grid {grid!r}: use one of {', '.join(GRIDS)}")
    expected = (native.shape[0], 1, *native.shape[-2:])
    if tuple(known.shape) != expected:
        raise MedinpaintError(f"mask shape {tuple(known.shape)} does not match the slices {expected}: give a mask of the image's size")
    if not bool((known < 0.5).flatten(1).any(dim=1).all()):
        raise MedinpaintError("every slice passed to inpaint_native must have missing pixels: leave out the others")
    device = next(models.generator.parameters()).device
    native, known = native.float().cpu(), known.float().cpu()
    if grid == "windows":
        windows = hole_windows(known, windowing)
        unit = torch.stack([intensity(s) for s in native])
        images, grid_known = crop_windows(unit, known, windows, windowing)
        owner = torch.tensor([w.image for w in windows])
    else:
        to_grid = ToGrid(intensity, windowing.size)
        pairs = [to_grid.with_mask(image, mask) for image, mask in zip(native, known)]
        images, grid_known = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        owner = torch.arange(len(native))
    found = latent_search(images.to(device), grid_known.to(device), models.generator, models.discriminator, search, progress=progress)
    scale = (intensity.high - intensity.low) / 2
    fill, spread = found.estimate(estimate).cpu(), found.uncertainty.cpu() * scale
    if grid == "windows":
        raw = paste_windows(torch.stack([intensity.inverse(g) for g in fill]), windows, native)
        spread = paste_windows(spread, windows, torch.zeros_like(known))
    else:
        record = to_grid.record(native[0])
        raw = torch.stack([ToGrid.inverse(g, record) for g in fill])
        # the N single-channel maps resize as the N channels of one image
        spread = SquareResize(windowing.size).inverse(spread[:, 0], tuple(native.shape[-2:]))[:, None]
    filled = blend(raw, native, known, method=blend_method)
    uncertainty = spread * (known < 0.5)
    loss = torch.zeros(len(native)).index_add_(0, owner, found.loss.cpu().float())
    iterations = torch.stack([found.iterations.cpu()[owner == n].max() for n in range(len(native))])
    return NativeFill(filled, raw, uncertainty, loss, iterations, len(images))
