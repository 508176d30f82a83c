"""Guide a volume's fill by the mirror image of the other hemisphere: the subject's own anatomy.

A network trained on one averaged brain draws that brain's anatomy into a hole; a subject's
anatomy differs from it (docs/results.md: the template's ventricles where the subject's are
elsewhere), but a brain is close to mirror-symmetric about its mid-sagittal plane, so the other
side of the same head holds the subject's own version of what the hole hides. This module:

1. fits the mirror plane (:func:`fit_mirror_plane`): the plane, near-perpendicular to the patient's
   left-right axis (from the image's affine), whose reflection of the known voxels correlates
   best with themselves in tissue (first on a coarse grid of about 4 mm, then on one of about 2 mm);
2. reads the mirror image across it (:func:`mirror_image`): the reflection of the known voxels,
   NaN where the reflection lands in the hole or outside the volume;
3. fills each connected hole with the mirror image corrected by a smooth field
   (:func:`mirror_guided_fill`): the difference between the volume and its mirror image on the known
   voxels around the hole, continued into the hole by the 3-D biharmonic fill, so the result
   meets the known voxels and keeps the mirror's structure (a guided fill, as Poisson blending is);
4. weighs it against the fill it is given (the network's), per hole, by a check on voxels the
   input does know (:func:`guide_by_mirror`): the hole grown by :data:`RING` voxels is filled again
   both ways (mirror-guided and 3-D biharmonic), and the least-squares weight of the
   mirror-guided fill against the known ring voxels, clipped to [0, 1], is the hole's weight. A
   subject whose hemispheres differ there (a lesion on the other side, a tilted acquisition that
   the plane cannot fit) gets a small weight and keeps the network's fill. Hole voxels whose
   reflection is in the hole too (a hole across the midline) meet the fill at their reflection,
   by half the weight in a thick hole (:func:`_pair_with_reflection`).

Known voxels are never changed. The template the model was trained on is symmetric by
construction, so on it the mirror image is the truth itself: benchmarks on the template report
the fill with and without it (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.detail import hole_gain
from medinpaint.inpainting.poisson3d import grow_box, hole_box
from medinpaint.masks import tissue_level, voided_voxels

__all__ = ["RING", "MirrorGuide", "MirrorPlane", "SliceMirrorGuides", "fit_mirror_plane", "guide_by_mirror", "left_right_axis", "mirror_guided_fill", "mirror_image"]

RING = 2  # voxels around a hole that check its mirror-guided fill
MAX_TILT = 0.3  # tangent of the largest tilt of the plane from perpendicular to the left-right axis (17°)
FIT_GRIDS_MM = (4.0, 2.0)  # the plane is fitted on these voxel sizes in turn
MIN_OVERLAP = 100  # tissue voxels that a reflection must overlap to be scored
MAX_POINTS = 40_000  # tissue voxels, evenly thinned, that score a plane on each grid
MARGIN = 8  # known voxels around a hole that its residual field reads
WEIGHTS_SHOWN = 8  # holes whose weight a report lists
SLICES_SHOWN = 3  # slices whose guide a report lists


@dataclass(frozen=True)
class MirrorPlane:
    """A mirror plane in a volume's millimetre coordinates (``index × spacing`` along the array axes).

    Attributes:
        normal: unit normal (3,).
        point: a point on the plane, mm (3,).
        correlation: the correlation of the known tissue voxels with their reflection (1 = symmetric).
    """

    normal: np.ndarray
    point: np.ndarray
    correlation: float

    def voxel_map(self, spacing) -> tuple[np.ndarray, np.ndarray]:
        """``(matrix, offset)`` of the reflection in voxel indices: voxel ``i`` reflects to ``matrix @ i + offset``."""
        scale = np.asarray(spacing, float)
        reflection = np.eye(3) - 2.0 * np.outer(self.normal, self.normal)
        matrix = reflection * scale[None, :] / scale[:, None]
        offset = (self.point - reflection @ self.point) / scale
        return matrix, offset

    def reflect(self, indices: np.ndarray, spacing, shape) -> np.ndarray:
        """The voxel coordinates (3, N) that voxels ``indices`` (3, N) reflect to, for
        :func:`scipy.ndimage.map_coordinates`; within 1e-6 of the volume's faces they are put on them,
        so that rounding never takes a face voxel (or a single slice) out of the volume."""
        matrix, offset = self.voxel_map(spacing)
        coordinates = matrix @ indices + offset[:, None]
        faces = np.clip(coordinates, 0, np.asarray(shape)[:, None] - 1)
        return np.where(np.abs(coordinates - faces) < 1e-6, faces, coordinates)


def left_right_axis(directions: np.ndarray) -> np.ndarray:
    """The patient's left-right axis in a volume's millimetre coordinates (unit vector).

    Args:
        directions: (3, 3) the world (RAS or LPS) step of one voxel along each array axis, as
            columns (a NIfTI affine's ``[:3, :3]``).

    Example:
        >>> left_right_axis(np.diag([-2.0, 2.0, 2.0])).tolist()
        [-1.0, 0.0, 0.0]
    """
    directions = np.asarray(directions, float)
    lengths = np.linalg.norm(directions, axis=0)
    if directions.shape != (3, 3) or not np.all(np.isfinite(directions)) or np.any(lengths <= 0):
        raise MedinpaintError(f"voxel directions {directions.tolist()} are not three non-zero 3-D steps: fix the image's affine")
    axis = directions[0] / lengths
    norm = float(np.linalg.norm(axis))
    if norm < 1e-6:
        raise MedinpaintError("the image's affine has no left-right component: fix it, or turn the mirror guide off")
    return axis / norm


def _normal(axis: np.ndarray, tilts: np.ndarray, helper: int) -> np.ndarray:
    """``axis`` tilted by two tangents, towards two directions perpendicular to it: the first also
    perpendicular to array axis ``helper``, the second towards it."""
    first = np.cross(axis, np.eye(3)[helper])
    first /= np.linalg.norm(first)
    normal = axis + tilts[0] * first + tilts[1] * np.cross(axis, first)
    return normal / np.linalg.norm(normal)


def _coarse(volume: np.ndarray, known: np.ndarray, spacing: np.ndarray, grid_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block means of the known voxels on a grid of about ``grid_mm``; a block is known when most of it is."""
    factors = np.clip(np.round(grid_mm / spacing), 1, volume.shape).astype(int)
    shape = np.asarray(volume.shape) // factors
    cut = tuple(slice(0, int(n * f)) for n, f in zip(shape, factors))
    blocks = (shape[0], factors[0], shape[1], factors[1], shape[2], factors[2])
    weight = known[cut].reshape(blocks).mean(axis=(1, 3, 5))
    total = np.where(known, volume, 0.0)[cut].reshape(blocks).mean(axis=(1, 3, 5))
    return total / np.maximum(weight, 1e-9), weight >= 0.5, spacing * factors


def fit_mirror_plane(volume: np.ndarray, known: np.ndarray, spacing, axis: np.ndarray) -> MirrorPlane | None:
    """The mirror plane of a volume's known voxels, near-perpendicular to ``axis`` (module docstring, 1);
    None when a grid has fewer than :data:`MIN_OVERLAP` known tissue voxels to score a plane with.

    The plane's offset along ``axis`` is scanned over the middle 60 % of the volume on the coarse
    grid, then the offset and two tilts (up to 17°) are refined by Powell's method on each grid
    of :data:`FIT_GRIDS_MM` in turn; each grid's score reads at most :data:`MAX_POINTS` tissue voxels.
    A single slice (an axis of one voxel) is mirrored within itself: ``axis`` is taken into its
    plane and only the tilt within it is fitted.

    Args:
        volume: (X, Y, Z) native units.
        known: (X, Y, Z), 1 = known.
        spacing: voxel size (mm) along X, Y, Z.
        axis: the left-right axis in mm coordinates (:func:`left_right_axis`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> half = ndimage.gaussian_filter(rng.random((20, 40, 30)), 2)
        >>> volume = np.concatenate([half, half[::-1]])[3:]  # symmetric about x = 16.5 voxels
        >>> plane = fit_mirror_plane(volume, np.ones(volume.shape), (1.0, 1.0, 1.0), np.array([1.0, 0, 0]))
        >>> round(float(plane.point @ plane.normal), 1), round(plane.correlation, 2)
        (16.5, 1.0)
    """
    volume, known, spacing, axis = np.asarray(volume, float), np.asarray(known) > 0.5, np.asarray(spacing, float), np.asarray(axis, float)
    flat = [k for k in range(3) if volume.shape[k] == 1]
    if flat:  # a slice: its mirror plane holds its normal, so it maps the slice onto itself
        axis = np.where(np.isin(np.arange(3), flat), 0.0, axis)
        if np.linalg.norm(axis) < 1e-6:
            return None
        axis /= np.linalg.norm(axis)
    axis = axis if axis[np.argmax(np.abs(axis))] > 0 else -axis  # one search whichever way the affine points
    helper = flat[0] if flat else int(np.argmin(np.abs(axis)))
    free = [0, 2] if flat else [0, 1, 2]  # the parameters fitted: tilts (the second leaves a slice's plane) and offset
    centre = (np.asarray(volume.shape) - 1) / 2 * spacing
    extent = float(np.abs((np.asarray(volume.shape) - 1) * spacing) @ np.abs(axis))
    best_offset, tilts = 0.0, np.zeros(2)
    for level, grid_mm in enumerate(FIT_GRIDS_MM):
        values, grid_known, grid_spacing = _coarse(volume, known, spacing, grid_mm)
        tissue = grid_known & (values > tissue_level(np.where(grid_known, values, 0.0)))
        corner = (grid_spacing - spacing) / 2  # a block's mean sits at its centre: the coarse grid's origin in mm
        points = np.argwhere(tissue)
        if len(points) < MIN_OVERLAP:
            return None
        points = points[:: -(-len(points) // MAX_POINTS)]  # evenly thinned
        at_points = values[tuple(points.T)]
        source, seen_source = np.where(grid_known, values, 0.0), grid_known.astype(float)

        def cost(parameters: np.ndarray) -> float:
            plane = MirrorPlane(_normal(axis, parameters[:2], helper), centre + parameters[2] * axis - corner, 0.0)
            coordinates = plane.reflect(points.T, grid_spacing, values.shape)
            seen = ndimage.map_coordinates(seen_source, coordinates, order=1) > 0.99
            if seen.sum() < MIN_OVERLAP:
                return 1.0
            reflected = ndimage.map_coordinates(source, coordinates[:, seen], order=1)
            if np.ptp(reflected) == 0.0 or np.ptp(at_points[seen]) == 0.0:
                return 1.0
            return -float(np.corrcoef(at_points[seen], reflected)[0, 1])

        if level == 0:
            offsets = np.arange(-0.3 * extent, 0.3 * extent + 1e-9, grid_spacing.min())
            best_offset = min(offsets, key=lambda d: cost(np.array([0.0, 0.0, d])))
        step = float(grid_spacing.max())
        bounds = [(-MAX_TILT, MAX_TILT)] * 2 + [(best_offset - 2 * step, best_offset + 2 * step)]
        start = np.array([*tilts, best_offset])
        start_cost = cost(start)

        def at(chosen: np.ndarray) -> np.ndarray:
            parameters = start.copy()
            parameters[free] = chosen
            return parameters

        found = optimize.minimize(lambda chosen: cost(at(chosen)), start[free], method="Powell", bounds=[bounds[k] for k in free], options={"xtol": 1e-3, "ftol": 1e-6})
        improved = found.fun <= start_cost  # Powell can step onto a plateau of no overlap
        best, correlation = (at(found.x), -float(found.fun)) if improved else (start, -start_cost)
        tilts, best_offset = best[:2], float(best[2])
    return MirrorPlane(_normal(axis, tilts, helper), centre + best_offset * axis, correlation)


def mirror_image(volume: np.ndarray, known: np.ndarray, plane: MirrorPlane, spacing, box: tuple[slice, ...] | None = None) -> np.ndarray:
    """The reflection of the known voxels across ``plane`` (linear interpolation) over ``box`` of the
    volume (None = all of it); NaN where it reads the hole or outside the volume.

    Example:
        >>> volume = np.arange(4.0)[:, None, None] * np.ones((4, 2, 2)); known = np.ones(volume.shape); known[0] = 0
        >>> plane = MirrorPlane(np.array([1.0, 0, 0]), np.array([1.5, 0, 0]), 1.0)
        >>> mirror_image(volume, known, plane, (1.0, 1.0, 1.0))[:, 0, 0].tolist()
        [3.0, 2.0, 1.0, nan]
        >>> mirror_image(volume, known, plane, (1.0, 1.0, 1.0), (slice(1, 3), slice(0, 1), slice(0, 1))).ravel().tolist()
        [2.0, 1.0]
    """
    known = np.asarray(known) > 0.5
    box = tuple(slice(0, n) for n in volume.shape) if box is None else box
    coordinates = plane.reflect(np.mgrid[box].reshape(3, -1).astype(float), spacing, volume.shape)
    weight = ndimage.map_coordinates(known.astype(float), coordinates, order=1)
    reflected = ndimage.map_coordinates(np.where(known, volume, 0.0).astype(float), coordinates, order=1)
    shape = tuple(len(range(n)[part]) for part, n in zip(box, volume.shape))
    return np.where(weight > 0.999, reflected / np.maximum(weight, 1e-9), np.nan).reshape(shape)


def mirror_guided_fill(volume: np.ndarray, known: np.ndarray, hole: np.ndarray, mirror: np.ndarray) -> np.ndarray | None:
    """The hole filled with the mirror image plus the 3-D biharmonic continuation of (volume − mirror)
    from the known voxels around it (module docstring, 3); NaN where the mirror image is; None
    when too few known voxels around the hole have a reflection.

    Args:
        volume: (X, Y, Z) values (only the known voxels' are read).
        known: (X, Y, Z) bool, True = known.
        hole: (X, Y, Z) bool, the voxels to fill: a part of the unknown ones (other holes are not read).
        mirror: :func:`mirror_image` of the volume.

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
    smooth = biharmonic_fill_3d(difference, paired.astype(np.float32))
    fill = np.full(volume.shape, np.nan)
    fill[box] = np.where(inside, reflected + smooth, np.nan)
    return fill


@dataclass(frozen=True)
class MirrorGuide:
    """What :func:`guide_by_mirror` did.

    Attributes:
        plane: the fitted mirror plane; None when the volume has too little known tissue to fit one
            (every weight is then 0).
        weights: per connected hole, the weight of its mirror-guided fill (0 = the fill given kept).
    """

    plane: MirrorPlane | None
    weights: tuple[float, ...]

    def __str__(self) -> str:
        """One line for a report: the plane's correlation and the first :data:`WEIGHTS_SHOWN` weights.

        Example:
            >>> print(MirrorGuide(MirrorPlane(np.array([1.0, 0, 0]), np.zeros(3), 0.8216), (0.97, 0.0)))
            plane correlation 0.82; weight of the mirror-guided fill per hole 0.97, 0.00
        """
        if self.plane is None:
            return "too little known tissue to fit a mirror plane; the fill is unguided"
        shown = ", ".join(f"{weight:.2f}" for weight in self.weights[:WEIGHTS_SHOWN])
        more = f" (+{len(self.weights) - WEIGHTS_SHOWN} more)" if len(self.weights) > WEIGHTS_SHOWN else ""
        return f"plane correlation {self.plane.correlation:.2f}; weight of the mirror-guided fill per hole {shown}{more}"


@dataclass(frozen=True)
class SliceMirrorGuides:
    """What :func:`medinpaint.slice_mirror.guide_slices_by_mirror` did, per filled slice.

    Attributes:
        slices: the slices' indices (NIfTI: along the slicing axis; DICOM: frames).
        guides: each slice's :class:`MirrorGuide`; None where the slice was not guided (no
            geometry, or its left-right axis leaves its plane).
    """

    slices: tuple[int, ...]
    guides: tuple[MirrorGuide | None, ...]

    def __str__(self) -> str:
        """One line for a report: the first :data:`SLICES_SHOWN` slices' guides.

        Example:
            >>> print(SliceMirrorGuides((4, 5), (None, MirrorGuide(None, (0.0,)))))
            2-D, per slice: slice 4: not guided (no geometry, or its left-right axis leaves the slice); slice 5: too little known tissue to fit a mirror plane; the fill is unguided
        """
        unguided = "not guided (no geometry, or its left-right axis leaves the slice)"
        shown = [f"slice {index}: {unguided if guide is None else guide}" for index, guide in zip(self.slices[:SLICES_SHOWN], self.guides)]
        more = f" (+{len(self.slices) - SLICES_SHOWN} more slices)" if len(self.slices) > SLICES_SHOWN else ""
        return "2-D, per slice: " + "; ".join(shown) + more


def _ring_weight(volume: np.ndarray, known: np.ndarray, hole: np.ndarray, mirror: np.ndarray) -> float:
    """The least-squares weight, clipped to [0, 1], of the mirror-guided fill over the 3-D biharmonic
    fill on the known voxels of a ring around ``hole``, each filling the hole grown by the ring."""
    grown = ndimage.binary_dilation(hole, iterations=RING)
    ring = grown & known & np.isfinite(mirror)
    around = known & ~grown  # what both fills of the grown hole read
    box = hole_box(grown, MARGIN)
    if ring.sum() < MIN_OVERLAP // 4 or not around[box].any():
        return 0.0
    guided = mirror_guided_fill(volume, around, grown, mirror)
    if guided is None:
        return 0.0
    smooth = np.full(volume.shape, np.nan)
    smooth[box] = biharmonic_fill_3d(np.where(around, volume, 0.0)[box], around[box].astype(np.float32))
    step, error = (guided - smooth)[ring], (volume - smooth)[ring]
    return float(np.clip((step * error).sum() / max(float((step * step).sum()), 1e-12), 0.0, 1.0))


def guide_by_mirror(volume: np.ndarray, known: np.ndarray, fill: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, MirrorGuide]:
    """``fill`` of a volume's holes moved towards their mirror-guided fill, per hole by how well the
    mirror predicts the known voxels around it (module docstring).

    Args:
        volume: (X, Y, Z) native units (the holes' values are ignored).
        known: (X, Y, Z), 1 = known, 0 = missing.
        fill: (X, Y, Z) the volume with its holes already filled (the network's 3-D fill).
        directions: (3, 3) the world step (mm) of one voxel along each array axis, as columns (a
            NIfTI affine's ``[:3, :3]``): the voxel sizes and the left-right axis.

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
    axis = left_right_axis(directions)
    spacing = np.linalg.norm(np.asarray(directions, float), axis=0)
    anatomy = ~voided_voxels(volume, known)  # what the guide reads: a voided region is no anatomy
    readable = known & anatomy
    plane = fit_mirror_plane(volume, readable, spacing, axis)
    filled = np.array(fill, np.float32, copy=True)
    filled[known] = volume[known]
    labels, count = ndimage.label(~known)
    if plane is None:
        return filled, MirrorGuide(None, (0.0,) * count)
    weights, unpaired = [], []
    for label, found in enumerate(ndimage.find_objects(labels), start=1):  # each hole in its box, read as far as the ring's fill reads
        box = grow_box(found, MARGIN + RING, volume.shape)
        one, mirror = labels[box] == label, mirror_image(volume, readable, plane, spacing, box)
        weight = _ring_weight(volume[box], readable[box], one, mirror)
        guided = mirror_guided_fill(volume[box], readable[box], one, mirror) if weight > 0.0 else None  # no solve for a hole the ring turns down
        if guided is None:
            weight = 0.0
        else:
            region, paired = filled[box], one & np.isfinite(guided)
            region[paired] = ((1.0 - weight) * region[paired] + weight * guided[paired]).astype(np.float32)
            if (one & ~paired).any():  # voxels whose reflection is in a hole too: paired below
                unpaired.append((box, one & ~paired, hole_gain(one, weight / 2)))
        weights.append(weight)
    return _pair_with_reflection(filled, anatomy, unpaired, plane, spacing), MirrorGuide(plane, tuple(weights))


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
