"""Place the embedded MNI152 T1 template on a head: a rigid turn and shift and one isotropic scale.

What the template guide (:mod:`medinpaint.inpainting.template_guide`) reads to guide the part of a
hole that the mirror cannot see. :func:`place_template` finds the turn, shift and scale (within
exp(±:data:`MAX_SCALE`)) that maximise the correlation of the template with the input's readable
voxels over the template's brain, times the share of those voxels in its brain, on grids of
:data:`GRIDS_MM` (L-BFGS on torch ``grid_sample``'s gradients), from several starts (the image's
world origin when known, and the best of a coarse grid of shifts about the input's tissue centre
and turns: a crop or a turned head is found alike), each refined on the coarse grid, those that
then still place the image apart (by :data:`SAME_PLACEMENT_MM` or more) refined on the fine grid
too, and the best there kept. ``inverted=True`` correlates the template with the input's values
negated: a contrast whose tissue order is the template's reversed (a T2: CSF bright, white matter
dark); ``inverted=None`` scans both signs on the coarse grid and refines the one whose best start
fits better (on nibabel's crop and its T2 and FLAIR proxies the right sign's best start fit
0.48–0.74, the wrong one's 0.19–0.25), and the other sign too when that one, refined on the fine
grid, still correlates below :data:`MIN_CORRELATION`, keeping the better: on a head deformed,
turned, biased and smaller than the template at once the scan's margin vanishes (0.39 against 0.41
for the wrong sign on nibabel's crop so changed), while the fine grid tells them apart (0.57 against
0.41). A placement whose coarse fit stays below
:data:`GIVE_UP_FIT` is not refined on the fine grid: the coarse grid's best is returned with its
fine-grid correlation (on nibabel's crop and ROBEX's head every placement used had a coarse fit of
0.51 or more, every misplaced one 0.35 or less). :class:`PlacedTemplate` samples the placed template on any box
of the input's voxels. docs/method.md §11, step 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage, optimize

from medinpaint.data.sample import sample_volume

__all__ = ["MIN_CORRELATION", "PlacedTemplate", "place_template"]

GRIDS_MM = (6.0, 3.0)  # the placement's grids, coarse to fine
STEPS = (60, 40)  # L-BFGS iterations on each, at most
MAX_POINTS = 30_000  # readable voxels, evenly thinned, that each grid's correlation reads
MAX_SCALE = 0.3  # the isotropic scale is exp(MAX_SCALE · tanh(s)): a head 0.74 to 1.35 times the template's
SHIFTS_MM = (-24.0, -12.0, 0.0, 12.0, 24.0)  # the coarse grid of starting shifts, along each world axis
TURNS_DEGREES = ((-10.0, 0.0, 10.0), (-15.0, 0.0, 15.0), (-15.0, 0.0, 15.0))  # starting turns about the world x, y, z axes
SCAN_POINTS = 3000  # points of the coarse grid that score the starts
STARTS = 8  # the best (shift, turn) starts, each refined on the coarse grid
SAME_PLACEMENT_MM = GRIDS_MM[0]  # coarse placements less than one coarse step apart at every point of the image are one: refined once on the fine grid
MIN_CORRELATION = 0.45  # a placement that correlates less with the input is not used (real T1: 0.60–0.66 placed, 0.26–0.31 misplaced, 0.25 reversed)
GIVE_UP_FIT = 0.4  # a best coarse fit below this is not refined on the fine grid (placements used: 0.51-0.77 coarse; misplaced: at most 0.35)


def _rotation(angles: torch.Tensor) -> torch.Tensor:
    """(3, 3) rotation, z·y·x Euler ``angles`` (radians)."""
    (cx, cy, cz), (sx, sy, sz) = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones((), dtype=angles.dtype), torch.zeros((), dtype=angles.dtype)
    about_x = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx]).reshape(3, 3)
    about_y = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy]).reshape(3, 3)
    about_z = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one]).reshape(3, 3)
    return about_z @ about_y @ about_x


def _correlation(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The ``weight``-weighted correlation of ``a`` and ``b`` (last axis)."""
    weight = weight / weight.sum(-1, keepdim=True).clamp_min(1e-6)
    da, db = a - (weight * a).sum(-1, keepdim=True), b - (weight * b).sum(-1, keepdim=True)
    return (weight * da * db).sum(-1) / torch.sqrt((weight * da * da).sum(-1) * (weight * db * db).sum(-1) + 1e-12)


def _fit(placed: torch.Tensor, values: torch.Tensor, brain: torch.Tensor) -> torch.Tensor:
    """What the placement maximises: the correlation over the template's brain times the share of the
    points inside it (a correlation over a few points at the brain's edge can be high by chance)."""
    return _correlation(placed, values, brain) * brain.mean(-1)


def _scale(logit: torch.Tensor) -> torch.Tensor:
    """The placement's isotropic scale of subject millimetres into the template's, from its logit: within exp(±:data:`MAX_SCALE`)."""
    return torch.exp(MAX_SCALE * torch.tanh(logit))


def _placement(centre: torch.Tensor, shift: torch.Tensor, parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(matrix, offset)`` that place subject world points: ``world @ matrix.T + offset`` is ``world`` moved by ``shift``
    (mm) and then the parameters (translation in cm, three angles, the scale's logit) about the template's brain ``centre``."""
    matrix = _scale(parameters[6]) * _rotation(parameters[3:6])
    return matrix, (shift - centre) @ matrix.T + centre + 10.0 * parameters[:3]


def _placed_points(world: torch.Tensor, centre: torch.Tensor, shift: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
    """Subject world points (N, 3) placed by :func:`_placement`: where they lie in the template's world."""
    matrix, offset = _placement(centre, shift, parameters)
    return world @ matrix.T + offset


class _TemplateLevel:
    """The template (smoothed by ``sigma_mm``) and its brain as two channels, sampled at subject world points."""

    def __init__(self, template: np.ndarray, affine: np.ndarray, sigma_mm: float) -> None:
        smooth = ndimage.gaussian_filter(template, sigma_mm) if sigma_mm else template
        self.channels = torch.tensor(np.stack([smooth, (template > 0).astype(np.float32)]))[None]
        half = (np.asarray(template.shape) - 1) / 2
        inverse = np.linalg.inv(affine)
        # template world -> grid_sample's coordinates (-1 to 1, read as (z, y, x) for (X, Y, Z) arrays)
        self.to_grid = torch.tensor((inverse[:3, :3] / half[:, None])[::-1].copy())
        self.grid_offset = torch.tensor((inverse[:3, 3] / half - 1)[::-1].copy())

    def sample(self, world: torch.Tensor, centre: torch.Tensor, shift: torch.Tensor, parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(template value, brain share) at subject world points (N, 3) placed by :func:`_placement`."""
        matrix, offset = _placement(centre.double(), shift.double(), parameters.double())  # one (3, 3) map to the grid: one product per point
        grid = world @ (self.to_grid @ matrix).T.float() + (self.to_grid @ offset + self.grid_offset).float()
        # grid_sample's 3-D CPU kernel works on one batch item per thread: the points in one item per thread (the same values)
        parts = max(1, min(torch.get_num_threads(), len(grid)))
        padded = torch.nn.functional.pad(grid, (0, 0, 0, -len(grid) % parts)).reshape(parts, 1, 1, -1, 3)
        values = torch.nn.functional.grid_sample(self.channels.expand(parts, -1, -1, -1, -1), padded, align_corners=True)
        values = values[:, :, 0, 0].transpose(0, 1).reshape(len(self.channels[0]), -1)[:, : len(grid)]
        return values[0], values[1]


@dataclass(frozen=True)
class _Template:
    full: _TemplateLevel
    levels: tuple[_TemplateLevel, ...]  # smoothed for each of GRIDS_MM
    centre: torch.Tensor  # the brain's centre, world mm


@lru_cache(maxsize=1)
def _template() -> _Template:
    """The embedded template, read once: at full resolution, smoothed for each grid, and its brain centre."""
    template, affine = sample_volume()
    template = template.astype(np.float32)
    brain = np.argwhere(template > 0)
    centre = torch.tensor(affine[:3, :3] @ brain.mean(axis=0) + affine[:3, 3], dtype=torch.float32)
    levels = tuple(_TemplateLevel(template, affine, grid / 2) for grid in GRIDS_MM)
    return _Template(_TemplateLevel(template, affine, 0.0), levels, centre)


@dataclass(frozen=True)
class PlacedTemplate:
    """The template placed on a volume by :func:`place_template`.

    Attributes:
        directions: (3, 3) the volume's world step (mm) of one voxel along each axis, as columns (RAS).
        shift: (3,) mm, the start's shift of the volume's world points.
        parameters: (7,) translation (cm), angles (radians), the scale's logit.
        correlation: of the placed template with the volume's readable voxels over its brain, on the fine grid
            (with their values negated when ``inverted``).
        inverted: placed on the volume's values negated: a contrast whose tissue order is the template's reversed.
    """

    directions: np.ndarray
    shift: torch.Tensor
    parameters: torch.Tensor
    correlation: float
    inverted: bool = False

    @property
    def head_size(self) -> float:
        """The head's size against the template's (1 = the template's; the inverse of the placement's scale)."""
        return 1.0 / float(_scale(self.parameters[6]))

    def sample(self, box: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(values, brain share)`` of the placed template on the voxels of ``box`` (slices with start and stop)."""
        indices = np.mgrid[box].reshape(3, -1).T.astype(np.float32)
        world = torch.from_numpy(indices @ self.directions.T.astype(np.float32))
        template = _template()
        with torch.no_grad():
            values, brain = template.full.sample(world, template.centre, self.shift, self.parameters)
        shape = tuple(part.stop - part.start for part in box)
        return values.numpy().reshape(shape), brain.numpy().reshape(shape)


def _points(volume: np.ndarray, readable: np.ndarray, directions: np.ndarray, grid_mm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """World points (N, 3) of the readable voxels on a ``grid_mm`` grid (at most :data:`MAX_POINTS`) and the
    readable voxels smoothed to it there (a normalised convolution: what the holes hold is never read)."""
    spacing = np.linalg.norm(directions, axis=0)
    step = np.maximum(1, np.round(grid_mm / spacing).astype(int))
    sigma = grid_mm / 2 / spacing
    smooth = ndimage.gaussian_filter(np.where(readable, volume, 0.0), sigma) / np.maximum(ndimage.gaussian_filter(readable.astype(np.float32), sigma), 1e-6)
    indices = np.argwhere(readable[:: step[0], :: step[1], :: step[2]]) * step
    indices = indices[np.linspace(0, len(indices) - 1, min(len(indices), MAX_POINTS)).astype(int)]
    return torch.tensor(indices @ directions.T, dtype=torch.float32), torch.tensor(smooth[tuple(indices.T)], dtype=torch.float32)


def place_template(
    volume: np.ndarray, readable: np.ndarray, directions: np.ndarray, origin: np.ndarray | None = None, inverted: bool | None = False
) -> PlacedTemplate | None:
    """The embedded template registered to ``volume`` (module docstring, 1); None with no readable tissue.

    Args:
        volume: (X, Y, Z) values.
        readable: (X, Y, Z) bool, the voxels the placement reads (known, not voided).
        directions: (3, 3) the world step (mm) of one voxel along each axis, as columns, in RAS (a
            NIfTI affine's ``[:3, :3]``).
        origin: the world position (mm, RAS) of voxel (0, 0, 0): one more start; None = the others only.
        inverted: correlate the template with the readable values negated (:attr:`PlacedTemplate.inverted`);
            None = with the values or negated, whichever the coarse grid's scan of starts fits better.

    Example:
        >>> template, affine = sample_volume()
        >>> turned = ndimage.rotate(template, 8, axes=(0, 1), reshape=False, order=1)[20:160, 30:190, 20:150]
        >>> placed = place_template(turned, turned > 0, affine[:3, :3])
        >>> round(placed.correlation, 1), round(float(np.degrees(placed.parameters[5].abs())))  # turned back by about 8°
        (1.0, 8)
    """
    volume, readable = np.asarray(volume, np.float32), np.asarray(readable, bool) & (np.asarray(volume) != 0)
    if readable.sum() < 100:
        return None
    directions = np.asarray(directions, np.float64)
    template = _template()
    tissue = readable & (volume > np.percentile(volume[readable], 30))
    centre = directions @ np.argwhere(tissue).mean(axis=0)
    points = [_points(volume, readable, directions, grid) for grid in GRIDS_MM]
    about = template.centre - torch.tensor(centre, dtype=torch.float32)
    scans = {sign: _starts(template, _signed(points[0], sign), about) for sign in ((False, True) if inverted is None else (inverted,))}
    signs = sorted(scans, key=lambda sign: -scans[sign][0])  # the sign whose best start fits better first

    def placed_in(sign: bool) -> tuple[PlacedTemplate, bool]:
        return _placed_on(template, [_signed(grid_points, sign) for grid_points in points], scans[sign][1], origin, directions, sign)

    placed, refined = placed_in(signs[0])
    if refined and placed.correlation < MIN_CORRELATION and len(signs) > 1:  # refined and still unusable: the scan may have chosen the wrong sign
        placed = max(placed, placed_in(signs[1])[0], key=lambda one: one.correlation)
    return placed


def _placed_on(
    template: _Template, points: list[tuple[torch.Tensor, torch.Tensor]], starts: list, origin: np.ndarray | None, directions: np.ndarray, inverted: bool
) -> tuple[PlacedTemplate, bool]:
    """The template placed from ``starts`` (and ``origin``) on each grid's ``points`` (their values already negated when
    ``inverted``), and whether it was refined on the fine grid (module docstring)."""
    if origin is not None:  # the image's world coordinates: a scanner's isocentre, or a template space's origin
        starts = [*starts, (torch.tensor(origin, dtype=torch.float32), np.zeros(7))]
    coarse = [(shift, *_refine(template.levels[0], points[0], shift, start, STEPS[0])) for shift, start in starts]
    refined = max(fit for _, _, fit in coarse) >= GIVE_UP_FIT  # below it misplaced on the coarse grid: the fine grid would not place it either
    if not refined:
        shift, parameters, _ = max(coarse, key=lambda placement: placement[2])
    else:
        found = [  # every distinct coarse placement refined on the fine grid: on a small image the coarse grid's best need not be the fine one's
            (shift, *_refine(template.levels[1], points[1], shift, parameters, STEPS[1]))
            for shift, parameters in _distinct_placements(coarse, points[0][0], template.centre)
        ]
        shift, parameters, _ = max(found, key=lambda placement: placement[2])
    parameters = torch.tensor(parameters, dtype=torch.float32)
    with torch.no_grad():
        placed, brain = template.levels[1].sample(points[1][0], template.centre, shift, parameters)
    return PlacedTemplate(directions, shift, parameters, float(_correlation(placed, points[1][1], brain)), inverted), refined


def _signed(points: tuple[torch.Tensor, torch.Tensor], inverted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(world, values)`` with the values negated when ``inverted``."""
    world, values = points
    return (world, -values) if inverted else (world, values)


def _starts(template: _Template, points: tuple[torch.Tensor, torch.Tensor], shift: torch.Tensor) -> tuple[float, list[tuple[torch.Tensor, np.ndarray]]]:
    """The best start's :func:`_fit` and the :data:`STARTS` best ``(shift, parameters)`` by it on the coarse grid (at most
    :data:`SCAN_POINTS` of its points) among every shift of :data:`SHIFTS_MM` about ``shift`` (along
    each world axis) and every turn of :data:`TURNS_DEGREES` about each axis."""
    world, values = (part[:: max(1, len(part) // SCAN_POINTS)] for part in points)
    offsets = torch.tensor(np.stack(np.meshgrid(SHIFTS_MM, SHIFTS_MM, SHIFTS_MM, indexing="ij"), -1).reshape(-1, 3), dtype=torch.float32)
    turns = np.radians(np.stack(np.meshgrid(*TURNS_DEGREES, indexing="ij"), -1).reshape(-1, 3))
    shifts, scores = shift + offsets, []
    with torch.no_grad():
        for angles in turns:
            parameters = torch.tensor(np.r_[0.0, 0.0, 0.0, angles, 0.0], dtype=torch.float32)
            placed, brain = template.levels[0].sample((world[None] + shifts[:, None]).reshape(-1, 3), template.centre, torch.zeros(3), parameters)
            scores.append(_fit(placed.reshape(len(shifts), -1), values.expand(len(shifts), -1), brain.reshape(len(shifts), -1)))
    scores = torch.stack(scores).ravel()
    best = torch.argsort(scores, descending=True)[:STARTS].tolist()
    return float(scores[best[0]]), [(shifts[k % len(shifts)], np.r_[0.0, 0.0, 0.0, turns[k // len(shifts)], 0.0]) for k in best]


def _distinct_placements(coarse: list, world: torch.Tensor, centre: torch.Tensor) -> list[tuple[torch.Tensor, np.ndarray]]:
    """The ``(shift, parameters)`` of ``coarse`` placements (``(shift, parameters, fit)``), best fit first,
    less those that put every one of the ``world`` points within :data:`SAME_PLACEMENT_MM` of where a better
    one puts it: starts that converged to one placement (on an untouched head, usually all of them)."""
    kept: list[tuple[torch.Tensor, np.ndarray, torch.Tensor]] = []
    for shift, parameters, _ in sorted(coarse, key=lambda placement: -placement[2]):
        with torch.no_grad():
            placed = _placed_points(world, centre, shift, torch.tensor(parameters, dtype=torch.float32))
        if all(float((placed - other).norm(dim=-1).max()) >= SAME_PLACEMENT_MM for _, _, other in kept):
            kept.append((shift, parameters, placed))
    return [(shift, parameters) for shift, parameters, _ in kept]


def _refine(level: _TemplateLevel, points: tuple[torch.Tensor, torch.Tensor], shift: torch.Tensor, start: np.ndarray, steps: int) -> tuple[np.ndarray, float]:
    """L-BFGS from ``start`` of :func:`_fit` on one grid: ``(parameters, fit)``."""
    world, values = points
    centre = _template().centre

    def cost(chosen: np.ndarray) -> tuple[float, np.ndarray]:
        tensor = torch.tensor(chosen, dtype=torch.float32, requires_grad=True)
        placed, brain = level.sample(world, centre, shift, tensor)
        loss = -_fit(placed, values, brain)
        loss.backward()
        return float(loss.detach()), tensor.grad.double().numpy()

    with _one_thread():
        found = optimize.minimize(cost, start, jac=True, method="L-BFGS-B", options={"maxiter": steps})
    return found.x, -float(found.fun)


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread inside: an L-BFGS step's few small operations cost more in waking torch's other threads than
    they share (a refinement on ROBEX's head at 1 mm: about half the time on one of 2 cores; docs/performance.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
