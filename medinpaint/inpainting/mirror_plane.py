"""The mirror plane of a head: where its left and right sides reflect into each other.

A brain is close to mirror-symmetric about its mid-sagittal plane. :func:`fit_mirror_plane` finds
the plane, near-perpendicular to the patient's left-right axis (:func:`left_right_axis`, from the
image's affine), whose reflection of the known voxels correlates best with themselves in tissue
(first on a coarse grid of about 4 mm, then on one of about 2 mm; their detail, each minus its
15 mm local mean, so that a smooth bias brighter on one side does not pull the plane);
:func:`mirror_image` reads the reflection of the known voxels across it, NaN where it lands in a
hole or outside the volume.
:mod:`medinpaint.inpainting.mirror_guide` fills holes with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from medinpaint.errors import MedinpaintError
from medinpaint.masks import tissue_level

__all__ = ["MIN_OVERLAP", "MAX_TILT", "MirrorPlane", "fit_mirror_plane", "left_right_axis", "mirror_image"]

MAX_TILT = 0.3  # tangent of the largest tilt of the plane from perpendicular to the left-right axis (17°)
SCAN_TILTS = 7  # tilts scanned per direction on the coarse grid, -MAX_TILT..MAX_TILT (tangent steps of 0.1, about 6°)
FIT_GRIDS_MM = (4.0, 2.0)  # the plane is fitted on these voxel sizes in turn
MIN_OVERLAP = 100  # tissue voxels that a reflection must overlap to be scored
MAX_POINTS = 40_000  # tissue voxels, evenly thinned, that score a plane on each grid
DETAIL_SIGMA_MM = 15.0  # the local mean taken from each grid's values before they are correlated
SCAN_POINTS = 5_000  # of those, evenly thinned, that score the coarse grid's scan of tilts and offsets


@dataclass(frozen=True)
class MirrorPlane:
    """A mirror plane in a volume's millimetre coordinates (``index × spacing`` along the array axes).

    Attributes:
        normal: unit normal (3,).
        point: a point on the plane, mm (3,).
        correlation: the correlation of the known tissue voxels' detail (:func:`fit_mirror_plane`)
            with its reflection, on the finer grid (1 = symmetric).
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


def _detail(values: np.ndarray, known: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """``values`` minus their local mean over the known voxels (a Gaussian of :data:`DETAIL_SIGMA_MM`):
    the anatomy's detail, without a smooth field (a coil's bias, brighter on one side) that a
    reflection would otherwise match instead of the anatomy."""
    sigma = DETAIL_SIGMA_MM / np.asarray(spacing, float)
    weight = ndimage.gaussian_filter(known.astype(float), sigma, mode="constant")
    local = ndimage.gaussian_filter(np.where(known, values, 0.0), sigma, mode="constant")
    return values - local / np.maximum(weight, 1e-6)


def fit_mirror_plane(volume: np.ndarray, known: np.ndarray, spacing, axis: np.ndarray) -> MirrorPlane | None:
    """The mirror plane of a volume's known voxels, near-perpendicular to ``axis`` (module docstring);
    None when a grid has fewer than :data:`MIN_OVERLAP` known tissue voxels to score a plane with.

    On the coarse grid, :data:`SCAN_TILTS` tilts per direction (up to 17°) are scanned with every
    offset along ``axis`` over the middle 60 % of the volume (a head turned in the scanner has no
    slope towards its plane from an untilted start; the scan reads :data:`SCAN_POINTS` tissue
    voxels); then the offset and the two tilts are refined by Powell's method on each grid of
    :data:`FIT_GRIDS_MM` in turn; each grid's score reads at most :data:`MAX_POINTS` tissue voxels.
    A score is the correlation of the tissue voxels' detail with its reflection: each grid's block
    means minus their local mean over the known blocks (a Gaussian of :data:`DETAIL_SIGMA_MM`),
    since a bias field rising ±20 % across the head drew the scan to a plane tilted 17° and 25 mm
    off (docs/results.md). A single slice (an axis of one voxel) is mirrored within itself:
    ``axis`` is taken into its plane and only the tilt within it is fitted.

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
        values = _detail(values, grid_known, grid_spacing)
        at_points = values[tuple(points.T)]
        source, seen_source = np.where(grid_known, values, 0.0), grid_known.astype(float)

        def cost(parameters: np.ndarray, every: int = 1) -> float:
            """Minus the correlation of every ``every``-th tissue point with its reflection (1: too little overlap)."""
            plane = MirrorPlane(_normal(axis, parameters[:2], helper), centre + parameters[2] * axis - corner, 0.0)
            coordinates = plane.reflect(points[::every].T, grid_spacing, values.shape)
            seen = ndimage.map_coordinates(seen_source, coordinates, order=1) > 0.99
            if seen.sum() < MIN_OVERLAP:
                return 1.0
            reflected = ndimage.map_coordinates(source, coordinates[:, seen], order=1)
            if np.ptp(reflected) == 0.0 or np.ptp(at_points[::every][seen]) == 0.0:
                return 1.0
            return -float(np.corrcoef(at_points[::every][seen], reflected)[0, 1])

        if level == 0:  # every tilt and offset on the coarse grid: a far tilt has no slope to follow from 0
            offsets = np.arange(-0.3 * extent, 0.3 * extent + 1e-9, grid_spacing.min())
            scanned = np.linspace(-MAX_TILT, MAX_TILT, SCAN_TILTS)
            second = scanned if 1 in free else [0.0]
            every = -(-len(points) // SCAN_POINTS)
            tilts[0], tilts[1], best_offset = min(((a, b, d) for a in scanned for b in second for d in offsets), key=lambda p: cost(np.array(p), every))
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


def _read_box(coordinates: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The box of a volume of ``shape`` that linear interpolation at ``coordinates`` (3, N) reads, one
    voxel more on each side (clipped to the volume): interpolating in it gives what the whole volume gives.

    Example:
        >>> _read_box(np.array([[1.5, 2.2], [0.0, 0.4], [7.9, 3.0]]), (10, 10, 10))
        (slice(0, 5, None), slice(0, 3, None), slice(2, 10, None))
    """
    if coordinates.shape[1] == 0:  # an empty box
        return tuple(slice(0, 0) for _ in shape)
    low = np.floor(coordinates.min(axis=1)).astype(int) - 1
    high = np.ceil(coordinates.max(axis=1)).astype(int) + 2
    return tuple(slice(int(np.clip(lo, 0, n)), int(np.clip(hi, 0, n))) for lo, hi, n in zip(low, high, shape))


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
    shape = tuple(len(range(n)[part]) for part, n in zip(box, volume.shape))
    read = _read_box(coordinates, volume.shape)  # only the voxels the reflection reads are converted
    if any(part.stop <= part.start for part in read):  # the reflection reads nothing inside the volume
        return np.full(shape, np.nan)
    coordinates = coordinates - np.array([part.start for part in read], float)[:, None]  # exact: integers off
    weight = ndimage.map_coordinates(known[read].astype(float), coordinates, order=1)
    reflected = ndimage.map_coordinates(np.where(known[read], volume[read], 0.0).astype(float), coordinates, order=1)
    return np.where(weight > 0.999, reflected / np.maximum(weight, 1e-9), np.nan).reshape(shape)
