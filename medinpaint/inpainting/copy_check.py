"""Check a 2-D network fill's correction on copies of the hole hidden in the image's own known pixels.

The fill network corrects a biharmonic fill towards what the images it learned look like (the
shipped model: windows of the MNI152 brain MR). On an image unlike them (a bone scan, an ultrasound
frame, a radiograph) that correction can be wrong, and nothing inside the hole says so. Outside it
the truth is known. For each slice:

1. **copies**: the hole moved beside itself (by the extent of its largest part plus :data:`GAP`
   pixels; for a hole of many parts that leaves no room, by their median extent), in whichever of the
   four directions hides the most known pixels; the known pixels under the moved hole are the copies,
   but for exact zeros (a background or a voided region: there the biharmonic fill is exact, and a
   network that adds anything would be turned down for what the hole does not hold);
2. the network (with :data:`CHECK_VIEWS` of its symmetry views) fills the hole and the copies
   together, correcting its biharmonic base of both;
3. the weight ``w`` is the least-squares weight, clipped to [0, 1], of the network's correction
   (fill − base) that best reproduces the copies' known values;
4. the hole's fill is ``base + w · (fill − base)`` (:func:`weigh_correction`).

``w = 1`` keeps the network's fill, ``w = 0`` is the biharmonic fill. A slice where fewer than
:data:`MIN_COPY_PIXELS` pixels can be hidden keeps ``w = 1``. The check is the template guide's ring
check (:func:`~medinpaint.inpainting.mirror_guide.ring_weight`) for the network itself, on whole
copies of the hole instead of a ring: a ring cannot be grown around the holes of a pixel dropout.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

from medinpaint.inpainting.network_fill import NetworkFill

__all__ = ["CHECK_VIEWS", "GAP", "MIN_COPY_PIXELS", "correction_weights", "hole_copies", "weigh_correction"]

CHECK_VIEWS = 1  # symmetry views of the check's network fill: 8 chose no better weights (docs/results.md, "The copy check")
GAP = 2  # known pixels between a part of the hole and its copy
MIN_COPY_PIXELS = 16  # fewer hidden pixels than this: no check (w = 1)


def _moved(hole: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """``hole`` moved by ``rows``, ``columns`` pixels; what leaves the image is dropped."""
    moved = np.zeros_like(hole)
    height, width = hole.shape
    if abs(rows) >= height or abs(columns) >= width:
        return moved
    source = tuple(slice(max(-step, 0), size - max(step, 0)) for step, size in ((rows, height), (columns, width)))
    target = tuple(slice(max(step, 0), size - max(-step, 0)) for step, size in ((rows, height), (columns, width)))
    moved[target] = hole[source]
    return moved


def hole_copies(hole: np.ndarray, readable: np.ndarray | None = None) -> np.ndarray:
    """The known pixels (H, W) under the hole moved beside itself (module docstring, 1); True = hidden.

    ``readable`` (H, W): the pixels a copy may hide (not exact zeros: a background or a voided region,
    where the biharmonic fill is exact and says nothing of the hole); None = every known pixel.

    Example:
        >>> hole = np.zeros((12, 12), bool); hole[2:5, 2:6] = True  # 3 rows, 4 columns
        >>> copies = hole_copies(hole)
        >>> int(copies.sum()), np.argwhere(copies).min(axis=0).tolist()  # moved down by its extent 4 + GAP
        (12, [8, 2])
    """
    labels, _ = ndimage.label(hole)
    extents = [max(part.stop - part.start for part in box) for box in ndimage.find_objects(labels)]
    readable = ~hole if readable is None else readable & ~hole
    best = np.zeros_like(hole)
    for step in dict.fromkeys((max(extents, default=0) + GAP, int(np.median(extents or [0])) + GAP)):
        for rows, columns in ((step, 0), (-step, 0), (0, step), (0, -step)):
            copies = _moved(hole, rows, columns) & readable
            best = copies if copies.sum() > best.sum() else best
        if best.sum() >= MIN_COPY_PIXELS:
            break
    return best


def correction_weights(native: torch.Tensor, known: torch.Tensor, network: Callable[[torch.Tensor, torch.Tensor], NetworkFill]) -> torch.Tensor:
    """Each slice's weight of the network's correction, checked on copies of its hole (module docstring).

    Args:
        native: (N, C, H, W) native units; values in the hole are not read.
        known: (N, 1, H, W), 1 = known, 0 = missing.
        network: the network's fill (:class:`~medinpaint.inpainting.network_fill.NetworkFill`) of
            slices (M, C, H, W) with a known mask (M, 1, H, W).

    Returns:
        (N,) float64 weights in [0, 1]; 1 where no copies fit.

    Example:
        >>> native = 100 + torch.rand(1, 1, 40, 40)
        >>> known = torch.ones(1, 1, 40, 40); known[..., 10:16, 10:16] = 0
        >>> flat = lambda values: torch.full_like(values, 100.5)  # a base that misses the texture
        >>> correction_weights(native, known, lambda values, mask: NetworkFill(values, None, flat(values))).tolist()  # a network that knows the truth
        [1.0]
        >>> [round(w, 2) for w in correction_weights(native, known, lambda values, mask: NetworkFill(values * 0, None, flat(values))).tolist()]  # one that fills zeros
        [0.0]
    """
    hole = (known < 0.5)[:, 0].cpu().numpy()
    readable = (native != 0).any(dim=1).cpu().numpy()
    copies = np.stack([hole_copies(plane, nonzero) for plane, nonzero in zip(hole, readable)])
    checked = copies.reshape(len(copies), -1).sum(axis=1) >= MIN_COPY_PIXELS
    weights = torch.ones(len(native), dtype=torch.float64)
    if not checked.any():
        return weights
    rows = torch.from_numpy(np.flatnonzero(checked))
    hidden = torch.from_numpy(copies[checked])[:, None]
    check = network(native[rows], known[rows].cpu().masked_fill(hidden, 0.0))
    base = check.base.double().cpu()
    correction = (check.fill.double().cpu() - base).masked_fill(~hidden, 0.0)
    error = (native[rows].double().cpu() - base).masked_fill(~hidden, 0.0)
    fit = (correction * error).flatten(1).sum(dim=1) / (correction * correction).flatten(1).sum(dim=1).clamp_min(1e-12)
    weights[rows] = fit.clamp(0.0, 1.0)
    return weights


def weigh_correction(fill: NetworkFill, native: torch.Tensor, known: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``base + w · (fill − base)`` in each slice's hole, ``w`` its weight (N,); known pixels from ``native``, bit for bit.

    Example:
        >>> native = torch.zeros(2, 1, 4, 4); known = torch.ones(2, 1, 4, 4); known[..., 1:3, 1:3] = 0
        >>> weighed = weigh_correction(NetworkFill(native + 10, None, native + 2), native, known, torch.tensor([0.0, 0.5]))
        >>> weighed[:, 0, 1, 1].tolist(), weighed[:, 0, 0, 0].tolist()
        ([2.0, 6.0], [0.0, 0.0])
    """
    share = weights.view(-1, 1, 1, 1).to(fill.fill.dtype)
    return torch.where(known < 0.5, fill.base + share * (fill.fill - fill.base), native)
