"""Known masks for experiments and the CLI: float (1, S, S) tensors, 1 = known, 0 = missing.

Every generator is seeded through a ``torch.Generator`` (None = a fresh unseeded one), so a
mask is reproducible from its spec and seed. ``make_mask`` parses CLI specs (the one way
experiments and the CLI draw masks) and ``check_mask`` checks a batch.

Mask FILES use the opposite, lesion-filling polarity (nonzero = fill); they are converted at the
file boundary by :func:`medinpaint.pipeline.load_mask`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial.transform import Rotation

from medinpaint.errors import MedinpaintError

__all__ = [
    "centre_box",
    "random_centre_box",
    "centre_quarter",
    "random_box",
    "pixel_dropout",
    "half",
    "pattern",
    "lesion_disks",
    "tissue_level",
    "voided_voxels",
    "guide_anatomy",
    "random_ellipses",
    "random_ellipsoids",
    "make_mask",
    "check_mask",
    "MASK_KINDS",
]

SIDES = ("left", "right", "top", "bottom")
TISSUE_SHARE = 0.1  # tissue: above this share of the volume's 99.5th percentile


def _box(top: int, left: int, height: int, width: int, size: int) -> torch.Tensor:
    known = torch.ones(1, size, size)
    known[:, top : top + height, left : left + width] = 0.0
    return known


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def _check_side(box: int, size: int) -> None:
    if not 1 <= box <= size:
        raise MedinpaintError(f"box side {box} must be between 1 and the image side {size}")


def centre_box(box: int, size: int = 64) -> torch.Tensor:
    """A centred ``box``×``box`` hole.

    Example:
        >>> known = centre_box(24)
        >>> known.shape, int((known == 0).sum()), known[0, 32, 32].item()
        (torch.Size([1, 64, 64]), 576, 0.0)
    """
    _check_side(box, size)
    start = (size - box) // 2
    return _box(start, start, box, box, size)


def random_centre_box(max_size: int = 12, generator: torch.Generator | None = None, size: int = 64) -> torch.Tensor:
    """A centred hole whose height and width are drawn independently from 1..``max_size``.

    Example:
        >>> known = random_centre_box(12, torch.Generator().manual_seed(0))
        >>> 1 <= int((known == 0).sum()) <= 144
        True
    """
    _check_side(max_size, size)
    height, width = _randint(1, max_size, generator), _randint(1, max_size, generator)
    return _box((size - height) // 2, (size - width) // 2, height, width, size)


def centre_quarter(size: int = 64) -> torch.Tensor:
    """A centred hole covering 25 % of the image (32×32 on 64×64).

    Example:
        >>> float((centre_quarter() == 0).float().mean())
        0.25
    """
    return centre_box(size // 2, size)


def random_box(
    min_size: int = 8, max_size: int = 32, generator: torch.Generator | None = None, size: int = 64
) -> torch.Tensor:
    """A hole of random height/width in ``min_size..max_size`` at a random position inside the image.

    Example:
        >>> known = random_box(generator=torch.Generator().manual_seed(1))
        >>> 64 <= int((known == 0).sum()) <= 1024
        True
    """
    _check_side(max_size, size)
    if not 1 <= min_size <= max_size:
        raise MedinpaintError(f"random box needs 1 <= min_size <= max_size, got {min_size}, {max_size}")
    height, width = _randint(min_size, max_size, generator), _randint(min_size, max_size, generator)
    top, left = _randint(0, size - height, generator), _randint(0, size - width, generator)
    return _box(top, left, height, width, size)


def pixel_dropout(rate: float = 0.8, generator: torch.Generator | None = None, size: int = 64) -> torch.Tensor:
    """Each pixel missing independently with probability ``rate`` (Yeh et al.'s "random" mask: 0.8).

    Example:
        >>> known = pixel_dropout(0.8, torch.Generator().manual_seed(0))
        >>> 0.75 < float((known == 0).float().mean()) < 0.85
        True
    """
    if not 0 < rate < 1:
        raise MedinpaintError(f"dropout rate must be in (0, 1), got {rate}")
    return (torch.rand(1, size, size, generator=generator) >= rate).float()


def half(side: str = "left", size: int = 64) -> torch.Tensor:
    """The ``left``, ``right``, ``top`` or ``bottom`` half missing.

    Example:
        >>> half("left")[0, 0, :2].tolist(), half("left")[0, 0, -1].item()
        ([0.0, 0.0], 1.0)
    """
    if side not in SIDES:
        raise MedinpaintError(f"unknown half {side!r}: use left, right, top or bottom")
    known = torch.ones(1, size, size)
    mid = size // 2
    region = {"left": (slice(None), slice(0, mid)), "right": (slice(None), slice(mid, None)),
              "top": (slice(0, mid), slice(None)), "bottom": (slice(mid, None), slice(None))}[side]
    known[(slice(None), *region)] = 0.0
    return known


def pattern(period: int = 8, width: int = 2, size: int = 64) -> torch.Tensor:
    """A regular lattice of missing lines: rows and columns ``width`` px wide every ``period`` px.

    The lines start at ``period // 2`` so the image border stays known; with the defaults
    1 - (6/8)² = 43.75 % of a 64×64 image is missing.

    Example:
        >>> float((pattern() == 0).float().mean())
        0.4375
    """
    if not 0 < width < period <= size:
        raise MedinpaintError(f"pattern needs 0 < width < period <= image side, got width {width}, period {period}")
    on_line = ((torch.arange(size) - period // 2) % period) < width
    missing = on_line[:, None] | on_line[None, :]
    return (~missing).float()[None]


MASK_KINDS = ("box", "centre", "quarter", "random-box", "dropout", "half", "pattern")
_ALIASES = {"center": "centre"}


def tissue_level(volume: np.ndarray | torch.Tensor) -> float:
    """The intensity above which a voxel counts as tissue, where lesion holes may lie:
    :data:`TISSUE_SHARE` of the volume's 99.5th percentile (native units).

    Example:
        >>> tissue_level(np.arange(1001.0))  # 10 % of 995
        99.5
    """
    return TISSUE_SHARE * float(np.percentile(np.asarray(volume), 99.5))


def voided_voxels(volume: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Known voxels that are exactly 0: a region voided (as the BraTS-Inpainting data void a tumour)
    that the mask does not mark, or the background of a skull-stripped or masked image; enclosed
    by tissue or open to the brain's surface alike. An MR magnitude image has no exact zeros in
    the head (a CT's water may be 0 HU: those voxels are then not read either, which only guides
    less); the mirror guide does not read these voxels.

    Args:
        volume: (X, Y, Z) values.
        known: (X, Y, Z) bool, True = known.

    Example:
        >>> volume = np.full((9, 9, 1), 50.0); volume[0] = volume[:, 0] = 0.0  # background along two edges
        >>> volume[3:5, 3:5] = volume[7:, 6:] = 0.0  # voided inside the head, and out to its edge
        >>> int(voided_voxels(volume, np.ones(volume.shape, bool)).sum()), int(voided_voxels(volume, volume > 0).sum())
        (27, 0)
    """
    return np.asarray(known, bool) & (np.asarray(volume) == 0)


def guide_anatomy(volume: np.ndarray, known: np.ndarray, brain: np.ndarray | None = None) -> np.ndarray:
    """The voxels the mirror and template guides may read (the holes' among them; known ones are read):
    all but the :func:`voided_voxels`, and only inside ``brain`` (a brain mask, ``--brain-mask``) when given.

    Example:
        >>> volume = np.full((4, 4, 1), 50.0); volume[0] = 0.0
        >>> brain = np.zeros(volume.shape, bool); brain[:3] = True
        >>> int(guide_anatomy(volume, np.ones(volume.shape, bool)).sum()), int(guide_anatomy(volume, np.ones(volume.shape, bool), brain).sum())
        (12, 8)
    """
    anatomy = ~voided_voxels(volume, known)
    return anatomy if brain is None else anatomy & np.asarray(brain, bool)


def lesion_disks(tissue: np.ndarray, radius: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` disks of ``radius`` pixels inside ``tissue`` (H, W) bool: True = the region to fill.

    Each whole disk, grown by 2 pixels, lies in the tissue, and disks stay at least 2 pixels
    apart; centres are drawn from ``rng``, so the same seed gives the same lesions.

    Raises:
        MedinpaintError: the tissue has no room left for another disk.

    Example:
        >>> holes = lesion_disks(np.ones((60, 60), bool), 3, 2, np.random.default_rng(0))
        >>> int(holes.sum())
        58
    """
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = xx**2 + yy**2 <= radius**2
    allowed = ndimage.binary_erosion(tissue, iterations=radius + 2)
    holes = np.zeros(tissue.shape, bool)
    for _ in range(count):
        free = np.argwhere(allowed & ~ndimage.binary_dilation(holes, iterations=2 * radius + 3))
        if not len(free):
            raise MedinpaintError(f"no room for {count} disks of radius {radius} in this tissue: use fewer or smaller ones")
        row, col = free[rng.integers(len(free))]
        holes[row - radius : row + radius + 1, col - radius : col + radius + 1] |= disk
    return holes


def random_ellipses(
    tissue: np.ndarray, rng: np.random.Generator, *, semi_axes: tuple[float, float] = (1.5, 18.0), most: int = 3, border: int = 10
) -> np.ndarray:
    """1 to ``most`` randomly rotated ellipses centred on ``tissue`` (S, S) bool: True = the region to fill.

    Semi-axes are drawn log-uniformly from ``semi_axes`` (pixels), each on its own, so holes run
    from lesion dots to elongated resection-sized regions; centres lie on tissue at least
    ``border`` pixels inside the image (the image centre when there is no such tissue).

    Example:
        >>> holes = random_ellipses(np.ones((64, 64), bool), np.random.default_rng(0))
        >>> holes.shape, bool(holes.any())
        ((64, 64), True)
    """
    height, width = tissue.shape
    rows, cols = np.mgrid[:height, :width]
    centres = np.argwhere(tissue[border : height - border, border : width - border]) + border
    if not len(centres):
        centres = np.array([[height // 2, width // 2]])
    holes = np.zeros(tissue.shape, bool)
    for _ in range(int(rng.integers(1, most + 1))):
        row, col = centres[rng.integers(len(centres))]
        major, minor = np.exp(rng.uniform(np.log(semi_axes[0]), np.log(semi_axes[1]), 2))
        angle = rng.uniform(0, np.pi)
        along = (rows - row) * np.cos(angle) + (cols - col) * np.sin(angle)
        across = (cols - col) * np.cos(angle) - (rows - row) * np.sin(angle)
        holes |= (along / major) ** 2 + (across / minor) ** 2 <= 1
    return holes


def random_ellipsoids(
    tissue: np.ndarray,
    rng: np.random.Generator,
    *,
    semi_axes: tuple[float, float] = (1.0, 10.0),
    most: int = 3,
    border: int = 10,
    chained: bool = False,
) -> np.ndarray:
    """1 to ``most`` randomly rotated ellipsoids in a volume ``tissue`` (X, Y, Z) bool: True = the region to fill.

    Semi-axes are drawn log-uniformly from ``semi_axes`` (voxels), each on its own. Unchained,
    every ellipsoid is centred on its own tissue voxel at least ``border`` voxels inside the
    volume (separate lesions); ``chained``, each next one is centred inside the previous one
    (one tumour- or resection-like region, as the BraTS-Inpainting holes).

    Example:
        >>> holes = random_ellipsoids(np.ones((32, 32, 32), bool), np.random.default_rng(0), chained=True)
        >>> holes.shape, bool(holes.any())
        ((32, 32, 32), True)
    """
    inner = tuple(slice(border, max(n - border, border + 1)) for n in tissue.shape)
    centres = np.argwhere(tissue[inner]) + border
    if not len(centres):
        centres = np.array([[n // 2 for n in tissue.shape]])
    offsets = np.stack(np.indices(tissue.shape), axis=-1).astype(np.float32)
    holes = np.zeros(tissue.shape, bool)
    centre = centres[rng.integers(len(centres))].astype(np.float32)
    for _ in range(int(rng.integers(1, most + 1))):
        radii = np.exp(rng.uniform(np.log(semi_axes[0]), np.log(semi_axes[1]), 3)).astype(np.float32)
        rotation = Rotation.random(random_state=rng).as_matrix().astype(np.float32)
        holes |= ((((offsets - centre) @ rotation) / radii) ** 2).sum(axis=-1) <= 1
        if chained:
            centre = centre + (rng.uniform(-0.5, 0.5, 3) * radii) @ rotation.T
        else:
            centre = centres[rng.integers(len(centres))].astype(np.float32)
    return holes


def make_mask(spec: str, *, generator: torch.Generator | None = None, size: int = 64) -> torch.Tensor:
    """Build a known mask (1, size, size) from a CLI spec.

    Specs: ``box:N`` (centred N×N), ``centre[:MAX]`` (random centred box up to MAX, default 12),
    ``quarter`` (centred 25 %), ``random-box[:MAX]``, ``dropout[:RATE]`` (default 0.8),
    ``half[:left|right|top|bottom]`` (default left), ``pattern[:PERIOD]`` (default 8).

    Raises:
        MedinpaintError: unknown kind (with a did-you-mean), bad or missing parameter.

    Example:
        >>> int((make_mask("box:24") == 0).sum())
        576
        >>> make_mask("qarter")
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: unknown mask 'qarter': did you mean 'quarter'? (choose from box:N, centre, quarter, random-box, dropout:RATE, half:SIDE, pattern)
    """
    kind, _, arg = spec.strip().lower().partition(":")
    kind = _ALIASES.get(kind, kind)
    if kind not in MASK_KINDS:
        close = difflib.get_close_matches(kind, MASK_KINDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise MedinpaintError(
            f"unknown mask {spec!r}: {hint}"
            "(choose from box:N, centre, quarter, random-box, dropout:RATE, half:SIDE, pattern)"
        )
    try:
        number = float(arg) if arg and kind != "half" else None
    except ValueError:
        raise MedinpaintError(f"mask {spec!r}: {arg!r} is not a number") from None
    if kind == "box":
        if number is None:
            raise MedinpaintError(f"mask {spec!r} needs a side, e.g. box:24")
        return centre_box(int(number), size)
    if kind == "centre":
        return random_centre_box(int(number or 12), generator, size)
    if kind == "quarter":
        return centre_quarter(size)
    if kind == "random-box":
        return random_box(max_size=int(number or 32), generator=generator, size=size)
    if kind == "dropout":
        return pixel_dropout(0.8 if number is None else number, generator, size)
    if kind == "half":
        return half(arg or "left", size)
    return pattern(int(number or 8), size=size)


def check_mask(known: torch.Tensor, *, volume: bool = False, slice_indices: Sequence[int] | None = None) -> None:
    """Check known masks (N, 1, H, W) or (1, H, W), 1 = known: one image, or the slices of one input.

    Args:
        known: the masks.
        volume: they are the slices of one volume filled by the fill network's 3-D fill, which fills
            a slice with no known pixel from the slices beside it: only the volume as a whole must keep one.
        slice_indices: the slices' indices in the input, for the message (None = 0, 1, ...).

    Raises:
        MedinpaintError: wrong layout, values outside [0, 1], or a mask that covers a whole image
            (a whole slice of several, naming the 3-D fill that takes it; with ``volume``, the whole volume).

    Example:
        >>> check_mask(torch.stack([centre_box(8), torch.ones(1, 64, 64)]))
        >>> check_mask(torch.stack([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)]), volume=True)
        >>> check_mask(torch.zeros(1, 8, 8))
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: mask covers the whole image (image 0): leave some pixels known
    """
    batch = known[None] if known.ndim == 3 else known
    if batch.ndim != 4 or batch.shape[1] != 1:
        raise MedinpaintError(f"mask must have shape (N, 1, H, W), got {tuple(known.shape)}")
    if not torch.isfinite(batch).all() or batch.min() < 0 or batch.max() > 1:
        raise MedinpaintError("mask values must be in [0, 1] (1 = known, 0 = missing)")
    known_count = (batch > 0.5).flatten(1).sum(dim=1)
    if (volume or len(batch) > 1) and not bool(known_count.any()):
        raise MedinpaintError("mask covers the whole volume: leave some voxels known")
    if volume:
        return
    covered = torch.nonzero(known_count == 0).flatten().tolist()
    if covered and len(batch) > 1:
        index = covered[0] if slice_indices is None else slice_indices[covered[0]]
        raise MedinpaintError(
            f"the mask covers all of slice {index}: whole slices of a volume are filled from the slices beside them by "
            "the fill network's 3-D fill (method auto or network, fill auto or 3d; on the command line with a mask "
            "file); otherwise leave some pixels of each slice known"
        )
    if covered:
        raise MedinpaintError(f"mask covers the whole image (image {covered[0]}): leave some pixels known")
