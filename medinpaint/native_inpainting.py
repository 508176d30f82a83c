"""Inpaint native slices in memory: native units in, native units out, known pixels bit-identical.

The one path from native slices to a model's fill and back, used by :func:`inpaint_file`, the
MONAI transforms and the benchmarks. Two methods (:data:`METHODS`):

* ``"network"``: the checkpoint's posterior-mean fill network on each whole slice at native
  resolution (:mod:`medinpaint.inpainting.network_fill`), its correction of the biharmonic fill
  weighed by how well it fills copies of the hole in the slice's own known pixels
  (:mod:`medinpaint.inpainting.copy_check`; ``copy_check``); the default when the checkpoint
  carries one (the shipped brain model does);
* ``"search"``: the paper's method, the DCGAN latent search, in these steps:

1. native -> [-1, 1] with the model's intensity map;
2. onto the 64×64 grid: ``grid="windows"`` cuts square windows at the scale of each hole
   (:mod:`medinpaint.windows`), ``grid="slices"`` squeezes each whole slice (the paper's and
   CelebA's protocol, the 0.1.0 behaviour);
3. ONE batched latent search over every window (or slice) and restart (on windows, the restarts
   search flipped views of each window by default: :func:`search_for_grid`);
4. the fill estimate (best restart, or the mean of the restarts), mapped back to native
   resolution and units (windows: resized back and averaged where they overlap);
5. the exact Poisson blend at native resolution; known pixels are copied, bit for bit;
6. optionally shrunk toward the biharmonic fill of the same hole (``prior_weight`` < 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch

from medinpaint.checkpoint import LoadedModels
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting import SearchConfig, blend, latent_search
from medinpaint.inpainting.copy_check import CHECK_VIEWS, correction_weights, weigh_correction
from medinpaint.inpainting.fill_grid import FillGrid
from medinpaint.inpainting.mirror_guide import MirrorGuide, SliceMirrorGuides
from medinpaint.inpainting.network_fill import network_fill
from medinpaint.inpainting.shrinkage import DEFAULT_PRIOR_WEIGHT, check_prior_weight, shrink_to_biharmonic
from medinpaint.networks.fill_unet import ResidualFillNet
from medinpaint.transforms.array import IntensityToUnit, SquareResize, ToGrid
from medinpaint.windows import WindowConfig, crop_windows, hole_windows, paste_windows

__all__ = [
    "GRIDS",
    "METHODS",
    "NativeFill",
    "check_method",
    "default_grid",
    "default_method",
    "default_prior_weight",
    "fill_network_of",
    "inpaint_native",
    "inpaint_native_stacks",
    "search_for_grid",
]

GRIDS = ("windows", "slices")
METHODS = ("network", "search")


@dataclass(frozen=True)
class NativeFill:
    """The result of :func:`inpaint_native` for N slices.

    Attributes:
        filled: (N, C, H, W) native units; known pixels bit-identical to the input (None when
            the caller blends the raw fill itself: ``blend_method=None``).
        raw: (N, C, H, W) the model's fill in native units before any blend (search: G(ẑ),
            outside the windows the input).
        uncertainty: (N, 1, H, W) spread of the fill over the restarts (search) or over the
            symmetry views (network), native units, zero on known pixels.
        loss: (N,) final search objective, summed over a slice's windows (network: 0).
        iterations: (N,) Adam steps, the most over a slice's windows (network: 0).
        windows: grid images searched (windows, or slices; network: 0).
        detail_gain: the 3-D network fill's unsharp-mask gain after the scaling for the volume's
            noise (:class:`~medinpaint.volume_inpainting.VolumeFill`); 0 for 2-D fills.
        grid: the grid the 3-D network fill ran on (:class:`~medinpaint.inpainting.fill_grid.FillGrid`);
            the slices' own for 2-D fills.
        mirror: the 3-D fill's mirror guide (:class:`~medinpaint.inpainting.mirror_guide.MirrorGuide`),
            or each slice's for a 2-D fill (:func:`medinpaint.slice_mirror.guide_native_fill`); None when
            not guided by the mirror.
        correction_weights: (N,) each slice's weight of the network's correction from the copy check
            (:mod:`medinpaint.inpainting.copy_check`); None when not checked.
    """

    filled: torch.Tensor | None
    raw: torch.Tensor
    uncertainty: torch.Tensor
    loss: torch.Tensor
    iterations: torch.Tensor
    windows: int
    detail_gain: float = 0.0
    grid: FillGrid = FillGrid()
    mirror: MirrorGuide | SliceMirrorGuides | None = None
    correction_weights: torch.Tensor | None = None


def default_grid(models: LoadedModels) -> str:
    """The grid a checkpoint was trained for: ``"windows"`` or ``"slices"``."""
    return "windows" if models.config.sampling == "windows" else "slices"


def check_method(method: str) -> str:
    """``method`` when it is ``"auto"`` or one of :data:`METHODS`; checked before any model loads.

    Example:
        >>> check_method("netwrok")
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: --method 'netwrok' is not one of auto, network, search: pick one of them
    """
    if method not in ("auto", *METHODS):
        raise MedinpaintError(f"--method {method!r} is not one of auto, {', '.join(METHODS)}: pick one of them")
    return method


def default_method(models: LoadedModels, method: str = "auto") -> str:
    """``method`` checked, ``"auto"`` resolved: ``"network"`` when the checkpoint carries a fill
    network, else ``"search"``.

    Raises:
        MedinpaintError: an unknown method, or ``"network"`` with a checkpoint that has none.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> default_method(load_models(device="cpu")), default_method(load_models("brain_mri_slices", device="cpu"))
        ('network', 'search')
    """
    if check_method(method) == "auto":
        return "search" if models.fill_network is None else "network"
    if method == "network":
        fill_network_of(models)
    return method


def fill_network_of(models: LoadedModels, *, volume: bool = False) -> ResidualFillNet:
    """The checkpoint's fill network; with ``volume``, its network for 3-D fills when it has one.

    Raises:
        MedinpaintError: the checkpoint has none (the message names the fix).
    """
    if models.fill_network is None:
        raise MedinpaintError(
            f"checkpoint {models.path.name} has no fill network: use --method search, or add one with `medinpaint train-fill`"
        )
    return models.volume_fill_network if volume and models.volume_fill_network is not None else models.fill_network


def default_prior_weight(grid: str, weight: float | None = None, method: str = "search") -> float:
    """``weight`` when given (checked), else the default: 1 for the ``"network"`` method (its fill
    already starts from the biharmonic one) and for a search on whole ``"slices"`` (the paper's
    method, unshrunk); the measured :data:`~medinpaint.inpainting.shrinkage.DEFAULT_PRIOR_WEIGHT`
    for a search on ``"windows"``.

    Example:
        >>> default_prior_weight("slices"), default_prior_weight("windows", 0.7), default_prior_weight("windows", method="network")
        (1.0, 0.7, 1.0)
    """
    if weight is not None:
        return check_prior_weight(weight)
    return DEFAULT_PRIOR_WEIGHT if grid == "windows" and method == "search" else 1.0


def search_for_grid(search: SearchConfig, grid: str) -> SearchConfig:
    """``search`` with ``flip_restarts`` decided when it is None: on for hole ``"windows"``, off
    for whole ``"slices"``.

    Windows: the window prior was trained with left-right and up-down flips, and restarts on
    flipped views of a window gave a better mean fill than restarts of one view at the same
    cost (docs/training.md). Whole slices: the paper's search, unchanged (the whole-slice prior
    never saw an up-down flip).

    Example:
        >>> search_for_grid(SearchConfig(), "windows").flip_restarts, search_for_grid(SearchConfig(), "slices").flip_restarts
        (True, False)
        >>> search_for_grid(SearchConfig(flip_restarts=False), "windows").flip_restarts
        False
    """
    if search.flip_restarts is not None:
        return search
    return replace(search, flip_restarts=grid == "windows")


def inpaint_native(
    native: torch.Tensor,
    known: torch.Tensor,
    models: LoadedModels,
    intensity: IntensityToUnit,
    search: SearchConfig = SearchConfig(),
    **options,
) -> NativeFill:
    """Fill the missing pixels of native slices with the model's generator.

    Args:
        native: (N, C, H, W) float32 in native units; values at missing pixels are ignored.
        known: (N, 1, H, W) float, 1 = known, 0 = missing; every slice must miss something.
        models: G and D (:func:`medinpaint.checkpoint.load_models`).
        intensity: the native -> [-1, 1] map of the model's domain.
        search: latent-search settings (``flip_restarts`` None: decided by :func:`search_for_grid`).
        options: the keywords of :func:`inpaint_native_stacks` (``method``, ``grid``,
            ``windowing``, ``estimate``, ``blend_method``, ``prior_weight``, ``progress``).

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
    return inpaint_native_stacks([(native, known)], models, intensity, search, **options)[0]


def inpaint_native_stacks(
    stacks: Sequence[tuple[torch.Tensor, torch.Tensor]],
    models: LoadedModels,
    intensity: IntensityToUnit,
    search: SearchConfig = SearchConfig(),
    *,
    method: str = "search",
    grid: str = "windows",
    windowing: WindowConfig = WindowConfig(),
    estimate: str = "best",
    blend_method: str | None = "poisson",
    prior_weight: float = 1.0,
    copy_check: bool = True,
    progress: bool = False,
) -> list[NativeFill]:
    """:func:`inpaint_native` for several stacks of slices (of different sizes) in ONE batched search.

    The 3-D fill searches the slices of its three orientations this way: one search over all
    their windows instead of three (3 % less time per case measured, 12 % in the search alone).
    One stack gives exactly :func:`inpaint_native`'s result.

    Args:
        stacks: ``(native, known)`` pairs as :func:`inpaint_native` takes them; the sizes may differ
            between pairs.
        models: G and D (:func:`medinpaint.checkpoint.load_models`).
        intensity: the native -> [-1, 1] map of the model's domain.
        search: latent-search settings (``flip_restarts`` None: decided by :func:`search_for_grid`).
        method: ``"search"`` (the DCGAN latent search; the settings below) or ``"network"``
            (the fill network on whole slices; ``search``, ``grid``, ``windowing``, ``estimate``
            and ``blend_method`` do not apply, except that ``blend_method`` None still means
            ``filled`` None).
        grid: ``"windows"`` around the holes or whole ``"slices"``.
        windowing: window settings (``grid="windows"``).
        estimate: ``"best"`` restart or ``"mean"`` of the restarts.
        blend_method: ``"poisson"`` (exact), ``"biharmonic"`` or ``"sobel-adam"``; None = no
            blend (``filled`` None), for a caller that blends the raw fills itself (the 3-D fill).
        prior_weight: share of the (blended) model fill in the hole; the rest is the
            biharmonic fill (:mod:`medinpaint.inpainting.shrinkage`); 1 = the model's fill only.
        copy_check: ``"network"``: weigh each slice's correction of its biharmonic base by the copy
            check (:mod:`medinpaint.inpainting.copy_check`), before ``prior_weight``; False = unchecked.
        progress: show the search's progress bar.

    Returns:
        One :class:`NativeFill` per stack.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> stacks = [(torch.rand(1, 1, 90, 80) * 100, torch.ones(1, 1, 90, 80)), (torch.rand(2, 1, 70, 90) * 100, torch.ones(2, 1, 70, 90))]
        >>> stacks[0][1][..., 40:46, 30:36] = 0; stacks[1][1][..., 20:30, 40:50] = 0
        >>> fills = inpaint_native_stacks(stacks, load_models(device="cpu"), IntensityToUnit(0, 100), SearchConfig(iterations=3))
        >>> [tuple(fill.filled.shape) for fill in fills], [fill.windows for fill in fills]
        ([(1, 1, 90, 80), (2, 1, 70, 90)], [1, 2])
    """
    if method not in METHODS:
        raise MedinpaintError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if method == "network":
        return [_network_stack(native, known, models, intensity, blend_method, prior_weight, copy_check) for native, known in stacks]
    if grid not in GRIDS:
        raise MedinpaintError(f"unknown grid {grid!r}: use one of {', '.join(GRIDS)}")
    search = search_for_grid(search, grid)
    on_grid = [_GridStack.cut(native, known, intensity, grid, windowing) for native, known in stacks]
    device = next(models.generator.parameters()).device
    images = torch.cat([stack.images for stack in on_grid]).to(device)
    grid_known = torch.cat([stack.grid_known for stack in on_grid]).to(device)
    found = latent_search(images, grid_known, models.generator, models.discriminator, search, progress=progress)
    fill, spread = found.estimate(estimate).cpu(), found.uncertainty.cpu() * (intensity.high - intensity.low) / 2
    loss, iterations = found.loss.cpu().float(), found.iterations.cpu()
    fills, first = [], 0
    for stack in on_grid:
        rows = slice(first, first + len(stack.images))
        fills.append(stack.back(fill[rows], spread[rows], loss[rows], iterations[rows], intensity, blend_method, prior_weight))
        first = rows.stop
    return fills


def _checked(native: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 CPU copies of one stack, after checking the mask's shape and that every slice misses something."""
    expected = (native.shape[0], 1, *native.shape[-2:])
    if tuple(known.shape) != expected:
        raise MedinpaintError(f"mask shape {tuple(known.shape)} does not match the slices {expected}: give a mask of the image's size")
    if not bool((known < 0.5).flatten(1).any(dim=1).all()):
        raise MedinpaintError("every slice passed to inpaint_native must have missing pixels: leave out the others")
    return native.float().cpu(), known.float().cpu()


def _network_stack(
    native, known, models: LoadedModels, intensity: IntensityToUnit, blend_method: str | None, prior_weight: float, copy_check: bool
) -> NativeFill:
    """One stack filled by the checkpoint's fill network (no blend: the fill starts from the biharmonic one)."""
    net = fill_network_of(models)
    native, known = _checked(native, known)
    result = network_fill(native, known, net, intensity)
    fill, weights = result.fill, None
    if blend_method is not None and copy_check:
        weights = correction_weights(native, known, lambda values, mask: network_fill(values, mask, net, intensity, views=CHECK_VIEWS))
        fill = weigh_correction(result, native, known, weights)
    filled = None if blend_method is None else shrink_to_biharmonic(fill, native, known, prior_weight)
    zeros = torch.zeros(len(native))
    return NativeFill(filled, result.fill, result.spread, zeros, zeros.long(), 0, correction_weights=weights)


@dataclass(frozen=True)
class _GridStack:
    """One stack of native slices cut onto the 64×64 grid, with what maps its fills back."""

    native: torch.Tensor
    known: torch.Tensor
    images: torch.Tensor
    grid_known: torch.Tensor
    owner: torch.Tensor
    windows: list | None
    to_grid: ToGrid | None
    size: int

    @classmethod
    def cut(cls, native: torch.Tensor, known: torch.Tensor, intensity: IntensityToUnit, grid: str, windowing: WindowConfig) -> "_GridStack":
        native, known = _checked(native, known)
        if grid == "windows":
            windows = hole_windows(known, windowing)
            unit = torch.stack([intensity(s) for s in native])
            images, grid_known = crop_windows(unit, known, windows, windowing)
            return cls(native, known, images, grid_known, torch.tensor([w.image for w in windows]), windows, None, windowing.size)
        to_grid = ToGrid(intensity, windowing.size)
        pairs = [to_grid.with_mask(image, mask) for image, mask in zip(native, known)]
        images, grid_known = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        return cls(native, known, images, grid_known, torch.arange(len(native)), None, to_grid, windowing.size)

    def back(self, fill, spread, loss, iterations, intensity: IntensityToUnit, blend_method: str | None, prior_weight: float) -> NativeFill:
        """The fill estimate and spread of this stack's grid images -> :class:`NativeFill` at native resolution."""
        native, known = self.native, self.known
        if self.windows is not None:
            raw = paste_windows(torch.stack([intensity.inverse(g) for g in fill]), self.windows, native)
            spread = paste_windows(spread, self.windows, torch.zeros_like(known))
        else:
            record = self.to_grid.record(native[0])
            raw = torch.stack([ToGrid.inverse(g, record) for g in fill])
            # the N single-channel maps resize as the N channels of one image
            spread = SquareResize(self.size).inverse(spread[:, 0], tuple(native.shape[-2:]))[:, None]
        filled = None
        if blend_method is not None:
            filled = shrink_to_biharmonic(blend(raw, native, known, method=blend_method), native, known, prior_weight)
        uncertainty = spread * (known < 0.5)
        total_loss = torch.zeros(len(native)).index_add_(0, self.owner, loss)
        most = torch.stack([iterations[self.owner == n].max() for n in range(len(native))])
        return NativeFill(filled, raw, uncertainty, total_loss, most, len(self.images))
