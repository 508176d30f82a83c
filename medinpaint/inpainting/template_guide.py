"""Guide the part of a hole that the mirror cannot see by the embedded brain template, placed on the head.

The mirror guide (:mod:`medinpaint.inpainting.mirror_guide`) fills a hole from the other side of
the same head; where a hole's reflection lies in the hole too (a hole across the midline) or in a
voided region, it has nothing to read, and there the fill is the network's posterior mean,
drawn from one averaged brain in the wrong place. The embedded MNI152 T1 template, which the
brain models were trained on, is that average brain as a whole: placed on the subject, it says
where the midline structures (ventricles, septum, corpus callosum) of this head lie. This module:

1. places the template
   (:func:`~medinpaint.inpainting.template_placement.place_template`: a turn, a shift and one
   isotropic scale that fit it to the input's readable voxels), on the input's values or on them
   negated (a T2-like contrast: CSF bright, white matter dark, the template's order reversed),
   whichever a coarse scan fits better; a placement that correlates less than
   :data:`MIN_CORRELATION` with the input is not used;
2. maps its values onto the input's contrast, piecewise linearly through 0 and the three tissue
   class means of each (:func:`template_in_subject_contrast`); for an inverted placement onto the
   classes in reverse order (the template's CSF to the input's brightest class), not through 0;
3. fills each hole from it as the mirror guide fills from the mirror image
   (:func:`~medinpaint.inpainting.mirror_guide.mirror_guided_fill`: the guide plus the 3-D
   biharmonic continuation of the difference on the known voxels around, here clipped first to its
   median ± :data:`CLIP_SPREAD` robust spreads: a template placed a voxel off at an edge differs
   there by a tissue contrast, which would otherwise carry into the hole), weighted by the mirror
   guide's ring check (:func:`~medinpaint.inpainting.mirror_guide.ring_weight`) times
   :data:`WEIGHT_GAIN`, at most 1: the ring weighs the guide against biharmonic filling one or two
   voxels from known tissue, where that fill is at its best, and the guide then replaces the fill
   given where it is at its worst;
4. moves the fill given (the mirror-guided one) towards it only where the mirror has nothing:
   by the weight times the hole's share of voxels without a mirror image, Gaussian-smoothed over
   :data:`SHARE_SIGMA` voxels so that the two guides meet without a seam (:func:`guide_by_template`).

Known voxels are never changed. Only for a model trained on the embedded template (its tissue
classes are known: :func:`medinpaint.tissue_contrast.reference_classes`). Measured in
docs/results.md ("The template guide for the midline").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from medinpaint.inpainting.mirror_guide import MARGIN, RING, mirror_guided_fill, ring_weight
from medinpaint.inpainting.poisson3d import grow_box
from medinpaint.inpainting.template_placement import MIN_CORRELATION, place_template
from medinpaint.tissue_contrast import piecewise_linear, template_class_means, tissue_class_means, tissue_voxels

__all__ = ["TemplateGuide", "guide_by_template", "template_in_subject_contrast"]

SHARE_SIGMA = 1.5  # voxels: the smoothing of the hole's share of voxels without a mirror image
WEIGHT_GAIN = 1.5  # the ring check's weight times this, at most 1, is the hole's weight (docs/results.md, "The template's weight")
CLIP_SPREAD = 2.0  # the template's difference from the input around a hole, clipped to its median ± this many robust spreads
WEIGHTS_SHOWN = 8  # holes whose weight a report lists


def template_in_subject_contrast(values: np.ndarray, classes: np.ndarray, inverted: bool = False) -> np.ndarray:
    """Template ``values`` mapped piecewise linearly through 0 and the template's three tissue class means
    onto the subject's ``classes`` (:func:`~medinpaint.tissue_contrast.tissue_class_means`; linear beyond
    the last: :func:`~medinpaint.tissue_contrast.piecewise_linear`). ``inverted`` (a placement on
    the values negated, :attr:`~medinpaint.inpainting.template_placement.PlacedTemplate.inverted`):
    onto the classes in reverse order, and not through 0 (the template's darkest tissue, CSF, is
    the subject's brightest): linear beyond the first class too.

    Example:
        >>> from medinpaint.data.sample import sample_volume
        >>> template, _ = sample_volume()
        >>> own = template_class_means()
        >>> mapped = template_in_subject_contrast(template[80:100, 100:120, 70:90], 2 * own)
        >>> bool(np.allclose(mapped, 2 * template[80:100, 100:120, 70:90], rtol=1e-4))
        True
        >>> in_reverse = template_in_subject_contrast(own, np.array([30.0, 60.0, 90.0]), inverted=True)
        >>> in_reverse.round(1).tolist(), bool(template_in_subject_contrast(0.5 * own[0], np.array([30.0, 60.0, 90.0]), inverted=True) > 90)
        ([90.0, 60.0, 30.0], True)
    """
    if inverted:
        return piecewise_linear(values, template_class_means(), np.asarray(classes)[::-1])
    return piecewise_linear(values, np.r_[0.0, template_class_means()], np.r_[0.0, classes])


@dataclass(frozen=True)
class TemplateGuide:
    """What :func:`guide_by_template` did.

    Attributes:
        correlation: the placed template's correlation with the input (None: not placed, no hole
            needed it; below :data:`MIN_CORRELATION`: placed but not used).
        weights: per connected hole, the weight of its template-guided fill (0 = the fill given kept).
        unmirrored: per connected hole, the share of its voxels with no mirror image (where the template guides).
        head_size: the head's size against the template's, as placed
            (:attr:`~medinpaint.inpainting.template_placement.PlacedTemplate.head_size`); None = not placed.
        inverted: placed and mapped with the tissue order reversed
            (:attr:`~medinpaint.inpainting.template_placement.PlacedTemplate.inverted`).
    """

    correlation: float | None
    weights: tuple[float, ...]
    unmirrored: tuple[float, ...]
    head_size: float | None = None
    inverted: bool = False

    def __str__(self) -> str:
        """One line for a report.

        Example:
            >>> print(TemplateGuide(0.62, (0.83, 0.0), (0.43, 0.0), 0.97))
            template placed with correlation 0.62 (the head 0.97 x its size); its weight per hole (share of the hole without a mirror image) 0.83 (43 %), 0.00 (0 %)
            >>> print(TemplateGuide(0.58, (0.7,), (0.2,), 1.02, inverted=True))
            template placed with correlation 0.58 to the input's contrast reversed (CSF bright, as in T2) (the head 1.02 x its size); its weight per hole (share of the hole without a mirror image) 0.70 (20 %)
        """
        if self.correlation is None:
            return "template not placed (every hole voxel has a mirror image, or the input's tissue classes do not separate)"
        placed_as = (" to the input's contrast reversed (CSF bright, as in T2)" if self.inverted else "") + (
            "" if self.head_size is None else f" (the head {self.head_size:.2f} x its size)"
        )
        if self.correlation < MIN_CORRELATION:
            return f"template placed with correlation {self.correlation:.2f}{placed_as}, below {MIN_CORRELATION}: not used"
        shown = ", ".join(f"{weight:.2f} ({share:.0%})".replace("%", " %") for weight, share in zip(self.weights[:WEIGHTS_SHOWN], self.unmirrored))
        more = f" (+{len(self.weights) - WEIGHTS_SHOWN} more)" if len(self.weights) > WEIGHTS_SHOWN else ""
        return f"template placed with correlation {self.correlation:.2f}{placed_as}; its weight per hole (share of the hole without a mirror image) {shown}{more}"


def guide_by_template(
    volume: np.ndarray, known: np.ndarray, readable: np.ndarray, fill: np.ndarray, directions: np.ndarray, unmirrored: np.ndarray | None,
    origin: np.ndarray | None = None, classes: np.ndarray | None = None, progress: bool = False,
) -> tuple[np.ndarray, TemplateGuide]:
    """``fill`` moved towards each hole's template-guided fill where the mirror image is missing (module docstring, 3–4).

    Args:
        volume: (X, Y, Z) native units (the holes' values are ignored).
        known: (X, Y, Z) bool, True = known; each connected region of the rest is a hole.
        readable: (X, Y, Z) bool, the known voxels that are not voided: what the guides read.
        fill: (X, Y, Z) the volume with its holes filled (the mirror-guided fill); not changed.
        directions: (3, 3) the world step (mm) of one voxel along each axis, as columns, in RAS.
        unmirrored: (X, Y, Z) bool, the hole voxels with no mirror image, as
            :func:`~medinpaint.inpainting.mirror_guide.guide_by_mirror` found them
            (:attr:`~medinpaint.inpainting.mirror_guide.MirrorGuide.unmirrored`); None = every hole voxel.
        origin: the world position (mm, RAS) of voxel (0, 0, 0), one start of the placement; None = without.
        classes: the input's three tissue class means, where the network's contrast map has found them
            (:attr:`~medinpaint.tissue_contrast.TissueIntensityToUnit.classes`); None = found here, on ``readable``.
        progress: show a progress bar (with ETA) over the holes that have voxels with no mirror image, when there are several.

    Returns:
        ``(filled, guide)``: a copy of ``fill`` with known voxels unchanged, and :class:`TemplateGuide`.

    Example:
        >>> from medinpaint.data.sample import sample_volume
        >>> template, affine = sample_volume()
        >>> volume = template[40:140, 50:170, 50:130].astype(np.float32)
        >>> known = np.ones(volume.shape, bool); known[45:55, 60:75, 30:40] = False  # across the midline
        >>> flat = np.where(known, volume, volume[known & (volume > 0)].mean())
        >>> filled, guide = guide_by_template(volume, known, known & (volume > 0), flat, affine[:3, :3], None)
        >>> hole = ~known
        >>> guide.weights[0] > 0.9, float(np.abs(filled - volume)[hole].mean()) < 0.5 * float(np.abs(flat - volume)[hole].mean())
        (True, True)
    """
    known, readable = np.asarray(known, bool), np.asarray(readable, bool)
    filled = np.array(fill, np.float32, copy=True)
    unmirrored = ~known if unmirrored is None else np.asarray(unmirrored, bool)
    labels, count = ndimage.label(~known)
    holes = []  # (box, hole, its voxels with no mirror image) of each hole
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        box = grow_box(found, MARGIN + RING, volume.shape)
        one = labels[box] == label
        holes.append((box, one, one & unmirrored[box]))
    needed = bool((unmirrored & ~known).any())
    if needed and classes is None:
        classes = tissue_class_means(tissue_voxels(volume, readable))
    placed = place_template(volume, readable, directions, origin, inverted=None) if needed and classes is not None else None
    shares = tuple(float(lacking[one].mean()) for _, one, lacking in holes)
    if placed is None:
        return filled, TemplateGuide(None, (0.0,) * count, shares)
    if placed.correlation < MIN_CORRELATION:
        return filled, TemplateGuide(placed.correlation, (0.0,) * count, shares, placed.head_size)
    weights = []
    guided_holes = sum(bool(lacking.any()) for _, _, lacking in holes)
    bar = tqdm(total=guided_holes, disable=not progress or guided_holes < 2, desc="template guide", unit="hole")
    for box, one, lacking in holes:
        guided = None
        if lacking.any():  # no placement read, no solve, for a hole the mirror sees whole
            values, brain = placed.sample(box)
            guide = np.where(brain > 0.5, template_in_subject_contrast(values, classes, placed.inverted), np.nan)
            weight = min(WEIGHT_GAIN * ring_weight(volume[box], readable[box], one, guide, CLIP_SPREAD), 1.0)
            guided = mirror_guided_fill(volume[box], readable[box], one, guide, CLIP_SPREAD) if weight > 0.0 else None
            bar.update()
        if guided is None:
            weights.append(0.0)
            continue
        share = weight * np.clip(ndimage.gaussian_filter(lacking.astype(float), SHARE_SIGMA), 0.0, 1.0)
        take = one & np.isfinite(guided)
        region = filled[box]
        region[take] = ((1.0 - share[take]) * region[take] + share[take] * guided[take]).astype(np.float32)
        weights.append(weight)
    bar.close()
    return filled, TemplateGuide(placed.correlation, tuple(weights), shares, placed.head_size, placed.inverted)
