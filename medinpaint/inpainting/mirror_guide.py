"""Guide a volume's fill by the mirror image of the other hemisphere: the subject's own anatomy.

A network trained on one averaged brain draws that brain's anatomy into a hole; a subject's
anatomy differs from it (docs/results.md: the template's ventricles where the subject's are
elsewhere), but a brain is close to mirror-symmetric about its mid-sagittal plane, so the other
side of the same head holds the subject's own version of what the hole hides. This module:

1. fits the mirror plane (:func:`~medinpaint.inpainting.mirror_plane.fit_mirror_plane`): the plane,
   near-perpendicular to the patient's left-right axis, whose reflection of the known voxels
   correlates best with themselves in tissue;
2. reads the mirror image across it (:func:`~medinpaint.inpainting.mirror_plane.mirror_image`):
   the reflection of the known voxels, NaN where it lands in the hole or outside the volume;
3. fills each connected hole with the mirror image corrected by a smooth field
   (:func:`mirror_guided_fill`): the difference between the volume and its mirror image on the known
   voxels around the hole, continued into the hole by the 3-D biharmonic fill, so the result
   meets the known voxels and keeps the mirror's structure (a guided fill, as Poisson blending is);
4. weighs it against the fill it is given (the network's), per hole, by a check on voxels the
   input does know (:func:`guide_by_mirror`): the hole grown by :data:`RING` voxels is filled again
   both ways (mirror-guided and 3-D biharmonic), and the least-squares weight of the
   mirror-guided fill against the known ring voxels, clipped to [0, 1], is the hole's weight. A
   subject whose hemispheres differ there (a lesion on the other side, a tilted acquisition that
   the plane cannot fit) gets a small weight and keeps the network's fill;
5. corrects the hole's voxels that have no mirror image (their reflection in a hole, a voided
   region or outside the volume) as their guided neighbours were corrected: the correction
   (guided minus given) continued into them by the 3-D biharmonic fill (:func:`_continue_correction`);
6. moves those whose reflection is in the hole too (a hole across the midline) towards the fill
   at their reflection, by half the weight in a thick hole (:func:`_pair_with_reflection`).

Known voxels are never changed. The template the model was trained on is symmetric by
construction, so on it the mirror image is the truth itself: benchmarks on the template report
the fill with and without it (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.detail import hole_gain
from medinpaint.inpainting.mirror_plane import MIN_OVERLAP, MirrorPlane, fit_mirror_plane, left_right_axis, mirror_image
from medinpaint.inpainting.poisson3d import grow_box, hole_box
from medinpaint.masks import guide_anatomy

if TYPE_CHECKING:
    from medinpaint.inpainting.template_guide import TemplateGuide

__all__ = ["RING", "MirrorGuide", "SliceMirrorGuides", "fit_head_plane", "guide_by_mirror", "mirror_guided_fill", "ring_weight", "voided_note"]

RING = 2  # voxels around a hole that check its mirror-guided fill
MARGIN = 8  # known voxels around a hole that its residual field reads
WEIGHTS_SHOWN = 8  # holes whose weight a report lists
SLICES_SHOWN = 3  # slices whose guide a report lists


def mirror_guided_fill(
    volume: np.ndarray, known: np.ndarray, hole: np.ndarray, mirror: np.ndarray, clip_spread: float | None = None
) -> np.ndarray | None:
    """The hole filled with the mirror image plus the 3-D biharmonic continuation of (volume − mirror)
    from the known voxels around it (module docstring, 3); NaN where the mirror image is not; None
    when too few known voxels around the hole have a reflection.

    Args:
        volume: (X, Y, Z) values (only the known voxels' are read).
        known: (X, Y, Z) bool, True = known.
        hole: (X, Y, Z) bool, the voxels to fill: a part of the unknown ones (other holes are not read).
        mirror: :func:`mirror_image` of the volume, or another guide on the same voxels (NaN = none).
        clip_spread: the difference clipped to its median ± this many robust spreads (1.4826 × its
            median absolute deviation) before it is continued, so that a few voxels where the guide
            is misplaced (an edge a voxel off) do not carry into the hole; None = not clipped.

    Example:
        >>> x, y = np.linspace(-1, 1, 20), np.linspace(-1, 1, 12)
        >>> volume = np.abs(x)[:, None, None] + 0.1 * y[None, :, None] ** 2 + np.zeros((20, 12, 12))  # symmetric in x
        >>> hole = np.zeros(volume.shape, bool); hole[3:7, 4:8, 4:8] = True
        >>> mirror = np.where(hole[::-1], np.nan, volume[::-1])
        >>> bool(np.allclose(mirror_guided_fill(volume, ~hole, hole, mirror)[hole], volume[hole]))
        True
    """
    box = hole_box(hole, MARGIN)
    values, inside, reflected = volume[box].astype(float), hole[box], mirror[box]
    paired = known[box] & np.isfinite(reflected)
    if paired.sum() < MIN_OVERLAP // 4:
        return None
    difference = np.where(paired, values - np.nan_to_num(reflected), 0.0)
    if clip_spread is not None:
        middle = np.median(difference[paired])
        spread = clip_spread * 1.4826 * np.median(np.abs(difference[paired] - middle))
        difference = np.where(paired, np.clip(difference, middle - spread, middle + spread), 0.0)
    smooth = biharmonic_fill_3d(difference, paired.astype(np.float32))
    fill = np.full(volume.shape, np.nan)
    fill[box] = np.where(inside, reflected + smooth, np.nan)
    return fill


def voided_note(count: int) -> str:
    """The report's words for ``count`` voided voxels filled with the holes (:mod:`~medinpaint.inpainting.voided_context`); empty for none."""
    return f"; {count} voided voxels beside the holes filled with them (their 0 not read as tissue; kept at 0)" if count else ""


@dataclass(frozen=True)
class MirrorGuide:
    """What :func:`guide_by_mirror` did.

    Attributes:
        plane: the fitted mirror plane; None when the volume has too little known tissue to fit one
            (every weight is then 0).
        weights: per connected hole, the weight of its mirror-guided fill (0 = the fill given kept).
        mirrored: per connected hole, the share of its voxels that have a mirror image (the rest
            reflect into a hole, a voided region or out of the volume; steps 5 and 6 fill them).
        template: what the template guide did for the voxels with no mirror image
            (:mod:`medinpaint.inpainting.template_guide`); None = not run.
        unmirrored: (X, Y, Z) bool, the hole voxels with no mirror image (every hole voxel when no
            plane was fitted): where the template guide may act; None = not recorded.
        voided_beside: the known voxels of value 0 beside the holes whose reflection is tissue (a
            voided region), filled with the holes and kept at 0
            (:mod:`~medinpaint.inpainting.voided_context`); 0 = none, or not looked for.
    """

    plane: MirrorPlane | None
    weights: tuple[float, ...]
    mirrored: tuple[float, ...]
    template: TemplateGuide | None = None
    unmirrored: np.ndarray | None = field(default=None, repr=False, compare=False)
    voided_beside: int = 0

    def __str__(self) -> str:
        """One line for a report: the plane's correlation and the first :data:`WEIGHTS_SHOWN` holes' weights and shares mirrored.

        Example:
            >>> print(MirrorGuide(MirrorPlane(np.array([1.0, 0, 0]), np.zeros(3), 0.8216), (0.97, 0.0), (0.64, 1.0)))
            plane correlation 0.82; weight of the mirror-guided fill per hole (share of the hole with a mirror image) 0.97 (64 %), 0.00 (100 %)
            >>> print(MirrorGuide(MirrorPlane(np.array([1.0, 0, 0]), np.zeros(3), 0.8216), (0.97,), (0.64,), voided_beside=812))
            plane correlation 0.82; weight of the mirror-guided fill per hole (share of the hole with a mirror image) 0.97 (64 %); 812 voided voxels beside the holes filled with them (their 0 not read as tissue; kept at 0)
        """
        after = voided_note(self.voided_beside) + ("" if self.template is None else f"; {self.template}")
        if self.plane is None:
            return "too little known tissue to fit a mirror plane; the fill is unguided by the mirror" + after
        shown = ", ".join(f"{weight:.2f} ({share:.0%})".replace("%", " %") for weight, share in zip(self.weights[:WEIGHTS_SHOWN], self.mirrored))
        more = f" (+{len(self.weights) - WEIGHTS_SHOWN} more)" if len(self.weights) > WEIGHTS_SHOWN else ""
        return f"plane correlation {self.plane.correlation:.2f}; weight of the mirror-guided fill per hole (share of the hole with a mirror image) {shown}{more}{after}"


@dataclass(frozen=True)
class SliceMirrorGuides:
    """What :func:`medinpaint.slice_mirror.guide_slices_by_mirror` did, per filled slice.

    Attributes:
        slices: the slices' indices (NIfTI: along the slicing axis; DICOM: frames).
        guides: each slice's :class:`MirrorGuide`; None where the slice was not guided (no
            geometry, or its left-right axis leaves its plane).
        voided_beside: the known voxels of value 0 beside the holes of slices that form a volume whose
            reflection is tissue (a voided region), filled with the holes and kept at 0
            (:func:`medinpaint.slice_mirror.voided_beside_slices`); 0 = none, or not looked for.
    """

    slices: tuple[int, ...]
    guides: tuple[MirrorGuide | None, ...]
    voided_beside: int = 0

    def __str__(self) -> str:
        """One line for a report: the first :data:`SLICES_SHOWN` slices' guides.

        Example:
            >>> print(SliceMirrorGuides((4, 5), (None, MirrorGuide(None, (0.0,), (0.0,)))))
            2-D, per slice: slice 4: not guided (no geometry, or its left-right axis leaves the slice); slice 5: too little known tissue to fit a mirror plane; the fill is unguided by the mirror
        """
        unguided = "not guided (no geometry, or its left-right axis leaves the slice)"
        shown = [f"slice {index}: {unguided if guide is None else guide}" for index, guide in zip(self.slices[:SLICES_SHOWN], self.guides)]
        more = f" (+{len(self.slices) - SLICES_SHOWN} more slices)" if len(self.slices) > SLICES_SHOWN else ""
        return "2-D, per slice: " + "; ".join(shown) + more + voided_note(self.voided_beside)


def ring_weight(volume: np.ndarray, known: np.ndarray, hole: np.ndarray, mirror: np.ndarray, clip_spread: float | None = None) -> float:
    """The least-squares weight, clipped to [0, 1], of the mirror-guided fill (``clip_spread`` as
    :func:`mirror_guided_fill`'s) over the 3-D biharmonic fill on the known voxels of a ring around
    ``hole``, each filling the hole grown by the ring."""
    grown = ndimage.binary_dilation(hole, iterations=RING)
    ring = grown & known & np.isfinite(mirror)
    around = known & ~grown  # what both fills of the grown hole read
    box = hole_box(grown, MARGIN)
    if ring.sum() < MIN_OVERLAP // 4 or not around[box].any():
        return 0.0
    guided = mirror_guided_fill(volume, around, grown, mirror, clip_spread)
    if guided is None:
        return 0.0
    smooth = np.full(volume.shape, np.nan)
    smooth[box] = biharmonic_fill_3d(np.where(around, volume, 0.0)[box], around[box].astype(np.float32))
    step, error = (guided - smooth)[ring], (volume - smooth)[ring]
    return float(np.clip((step * error).sum() / max(float((step * step).sum()), 1e-12), 0.0, 1.0))


def fit_head_plane(volume: np.ndarray, readable: np.ndarray, directions: np.ndarray) -> MirrorPlane | None:
    """The head's mirror plane (:func:`~medinpaint.inpainting.mirror_plane.fit_mirror_plane`) on the
    ``readable`` voxels (what the guide reads: known, not voided, inside a brain mask when given), the
    left-right axis and voxel sizes from ``directions``; None = none found.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> half = ndimage.gaussian_filter(rng.random((16, 30, 24)), 1.5) * 100
        >>> volume = np.concatenate([half, half[::-1]]).astype(np.float32)
        >>> plane = fit_head_plane(volume, np.ones(volume.shape, bool), np.eye(3))
        >>> float(np.round(plane.point @ plane.normal, 1)), plane.correlation > 0.99
        (15.5, True)
    """
    spacing = np.linalg.norm(np.asarray(directions, float), axis=0)
    return fit_mirror_plane(volume, np.asarray(readable, bool), spacing, left_right_axis(directions))


def guide_by_mirror(
    volume: np.ndarray, known: np.ndarray, fill: np.ndarray, directions: np.ndarray, progress: bool = False, brain: np.ndarray | None = None,
    plane: MirrorPlane | None = None,
) -> tuple[np.ndarray, MirrorGuide]:
    """``fill`` of a volume's holes moved towards their mirror-guided fill, per hole by how well the
    mirror predicts the known voxels around it (module docstring).

    Args:
        volume: (X, Y, Z) native units (the holes' values are ignored).
        known: (X, Y, Z), 1 = known, 0 = missing.
        fill: (X, Y, Z) the volume with its holes already filled (the network's 3-D fill).
        directions: (3, 3) the world step (mm) of one voxel along each array axis, as columns (a
            NIfTI affine's ``[:3, :3]``): the voxel sizes and the left-right axis.
        progress: show a progress bar over the holes (with ETA) when there are several (a lesion load).
        brain: (X, Y, Z) bool, the voxels the guide may read (a brain mask: a head's skull and scalp are
            then not read, as in a skull-stripped image); None = every known voxel that is not voided.
        plane: the plane :func:`fit_head_plane` found on the voxels this guide reads (known, not voided, inside ``brain``); None = fitted here.

    Returns:
        ``(filled, guide)``: the volume with known voxels bit-identical to ``volume``, and :class:`MirrorGuide`.

    Raises:
        MedinpaintError: ``directions`` that are not three non-zero steps or have no left-right component.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> half = ndimage.gaussian_filter(rng.random((16, 30, 24)), 1.5) * 100
        >>> volume = np.concatenate([half, half[::-1]]).astype(np.float32)
        >>> known = np.ones(volume.shape); known[4:9, 10:16, 8:13] = 0
        >>> flat = np.where(known > 0, volume, volume[known > 0].mean())
        >>> filled, guide = guide_by_mirror(volume, known, flat, np.eye(3))
        >>> hole = known < 0.5
        >>> guide.weights[0] > 0.9, float(np.abs(filled - volume)[hole].mean()) < 0.1 * float(np.abs(flat - volume)[hole].mean())
        (True, True)
    """
    volume, known = np.asarray(volume, np.float32), np.asarray(known) > 0.5
    spacing = np.linalg.norm(np.asarray(directions, float), axis=0)
    anatomy = guide_anatomy(volume, known, brain)  # what the guide reads: a voided region is no anatomy, nor the skull outside a brain mask
    readable = known & anatomy
    plane = fit_head_plane(volume, readable, directions) if plane is None else plane
    filled = np.array(fill, np.float32, copy=True)
    filled[known] = volume[known]
    labels, count = ndimage.label(~known)
    unmirrored = ~known  # until a hole's mirror image is read
    if plane is None:
        return filled, MirrorGuide(None, (0.0,) * count, (0.0,) * count, unmirrored=unmirrored)
    weights, mirrored, unpaired = [], [], []
    holes = enumerate(ndimage.find_objects(labels), start=1)  # each hole in its box, read as far as the ring's fill reads
    for label, found in tqdm(holes, total=count, disable=not progress or count < 2, desc="mirror guide", unit="hole"):
        box = grow_box(found, MARGIN + RING, volume.shape)
        one, mirror = labels[box] == label, mirror_image(volume, readable, plane, spacing, box)
        weight = ring_weight(volume[box], readable[box], one, mirror)
        unmirrored[box][one] = ~np.isfinite(mirror[one])
        mirrored.append(float(np.isfinite(mirror[one]).mean()))
        guided = mirror_guided_fill(volume[box], readable[box], one, mirror) if weight > 0.0 else None  # no solve for a hole the ring turns down
        if guided is None:
            weight = 0.0
        else:
            region, paired = filled[box], one & np.isfinite(guided)
            unguided = one & ~paired
            moved = ((1.0 - weight) * region[paired] + weight * guided[paired]).astype(np.float32)
            if unguided.any():  # voxels with no mirror image: corrected as their neighbours were, then paired below
                _continue_correction(region, unguided, paired, moved)
                unpaired.append((box, unguided, hole_gain(one, weight / 2)))
            region[paired] = moved
        weights.append(weight)
    guide = MirrorGuide(plane, tuple(weights), tuple(mirrored), unmirrored=unmirrored)
    return _pair_with_reflection(filled, anatomy, unpaired, plane, spacing), guide


def _continue_correction(region: np.ndarray, voxels: np.ndarray, paired: np.ndarray, moved: np.ndarray) -> None:
    """Add to ``voxels`` of ``region`` (a hole's voxels with no mirror image) the guide's correction
    of its ``paired`` voxels (``moved`` minus the fill given there), continued into them by the 3-D
    biharmonic fill from those voxels and from the known ones around (where it is 0): the fill given
    is wrong there as it was beside them, and smoothly so."""
    correction = np.zeros(region.shape)
    correction[paired] = moved - region[paired]
    region[voxels] += biharmonic_fill_3d(correction, (~voxels).astype(np.float32))[voxels].astype(np.float32)


def _pair_with_reflection(filled: np.ndarray, anatomy: np.ndarray, unpaired: list, plane: MirrorPlane, spacing) -> np.ndarray:
    """Each hole's voxels whose reflection is not known (``(box, voxels, share)``; a hole across the
    midline) moved by their share towards the fill at their reflection: two estimates of one
    symmetric anatomy, each from its own side's context. The share is half the hole's weight in a
    thick hole, less in a thinner one, none 1–2 voxels thick (:func:`~medinpaint.inpainting.detail.hole_gain`'s
    taper). All read the fill before any moves (a pair of share 1/2 meets at its mean); a reflection
    that reads outside the volume or a voided region (``anatomy`` False) leaves its voxel as it is."""
    before = filled.copy() if unpaired else filled  # what the moves read (no copy when nothing moves)
    for box, voxels, share in unpaired:
        reflected = mirror_image(before, anatomy, plane, spacing, box)
        take = voxels & np.isfinite(reflected) & (share > 0)
        filled[box][take] = ((1.0 - share[take]) * before[box][take] + share[take] * reflected[take]).astype(np.float32)
    return filled
