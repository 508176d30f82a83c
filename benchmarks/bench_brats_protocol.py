"""Benchmark: tumour-sized 3-D holes in the held-out slab, scored with the BraTS-Inpainting protocol.

Protocol (issue 10; the numbers go to docs/results.md):

* data: the embedded MNI152 T1 (1 mm). Holes lie wholly inside the held-out axial slab
  z = 96..135 (no training window of any orientation touches z = 91..140); or, ``--volume``, a
  NIfTI volume no model saw (e.g. the real subject's T1 in nibabel's test data), holes anywhere
  in its tissue, their sizes in mm (``--holes-in MASK``: only where a mask on its grid is nonzero,
  e.g. the brain of a head with its skull, less a lesion);
* holes: per case, the union of 2–3 randomly rotated ellipsoids, each 12–36 mm across (``--diameters``) along
  every axis, the later ones centred inside the first so that the union is one region; the
  union lies in healthy tissue (the brain, T1 > 10 % of its 99.5th percentile, eroded by 3
  voxels) and inside the slab; seeded (``--seed``), the same holes for every method;
* ``--asymmetry mm``: the volume is first deformed by a smooth random displacement field (seeded;
  Gaussian-smoothed white noise, σ = 6 mm, scaled so that its largest displacement is ``mm``;
  cubic interpolation), which breaks its left-right symmetry at the scale of gyri, as a native
  subject's is broken: nibabel's real T1 is SPM-normalised ("spm - 3D normalized" in its header),
  warped towards a near-symmetric template, so on it the mirror guide may look better than on
  a subject in its own space; the deformed volume is the truth;
* ``--pose yaw,roll,shift``: the head is first turned rigidly (yaw and roll in degrees, about the
  volume's centre) and moved ``shift`` mm left-right, as a subject lies in a scanner, so that its
  mirror plane is tilted and off the voxel grid, as in a scan in native space (cubic
  interpolation; 0 where the head leaves the field of view); the turned volume is the truth;
* ``--head-size f`` or ``fx,fy,fz``: the head is made ``f`` times its size (per voxel axis), as
  subjects' heads differ from the template's, by the voxel sizes of the files' affine alone (about
  the volume's centre; no resampling: the voxels, the holes in them and the scores are those of the
  unscaled case with the same ``--seed``, only their size in mm changes; the MNI152 brain is larger
  than most adults'), which the template guide's placement (one isotropic scale) has to find;
* ``--bias b``: the volume is first multiplied by a ramp along the left-right axis from 1 − b to
  1 + b, an uncorrected coil inhomogeneity at its worst for the mirror guide (the two sides differ by
  up to 2b); the biased volume is the truth;
* ``--void-reflection``: also void (set to 0, left out of the mask) a region of the other
  hemisphere, as BraTS-Inpainting inputs void a tumour (``reflection_void``): from the middle of
  the hole's reflection out to the edge of the head, as wide as the hole, so that it hides about
  half of what the mirror guide reads for the hole and opens to the brain's surface (or the
  volume's edge), where no region enclosed by tissue is; the truth is untouched;
* ``--contrast t2`` or ``flair``: the volume's tissue contrast is first remapped (``other_contrast``)
  from a T1's (CSF dark, grey matter, white matter bright) to a T2-like one (CSF bright, white
  matter dark) or a FLAIR-like one (CSF dark, grey matter above white matter), piecewise linearly
  through its own three tissue class means, so that the shipped T1 model meets a contrast it never
  learned (a check of the guides and the network on other sequences; the remapped volume is the
  truth);
* ``--noise s``: the volume is first given Rician noise of standard deviation ``s`` × its 99.5th
  percentile (seeded), as an acquisition has it, and that noisy volume is the truth: the template
  as a subject-like scan (the real 2 mm T1 here: about 0.04), for choosing settings that carry
  over to real data;
* files as a user has them: the voided input (the hole set to 0, as BraTS ships it), the mask
  (nonzero = hole) and the truth, NIfTI;
* methods: ``medinpaint`` = ``medinpaint inpaint`` as a subprocess with the CLI's defaults
  (the shipped model's fill network; a 3-D hole: ``--fill auto`` = 3d; ``--method search`` for
  the DCGAN latent search; since 2026-12-05 the mirror guide, ``--mirror``, is on);
  ``medinpaint-no-mirror`` = the same with ``--no-mirror`` (the template is symmetric, so on it
  the mirror guide sees the truth: this row is the fill's figure there);
  ``medinpaint-slices`` = the same with ``--fill slices --no-mirror``: the network slice by slice,
  each slice on its own, as filled before the 3-D fill (the issue's slice-wise filling; since
  2026-12-05 ``--fill slices`` alone guides each slice by its own mirror image);
  ``medinpaint-slices-guided`` = ``--fill slices`` alone: slice by slice, each slice guided by its own
  mirror image (in a head with its skull, within the brain ``--find-brain`` finds);
  ``biharmonic-2d`` = scikit-image ``inpaint_biharmonic`` on each axial slice;
  ``biharmonic-3d`` = ``inpaint_biharmonic`` on the 3-D crop around the hole (+ 8 voxels);
* scores: ``medinpaint score --protocol brats --json`` (subprocess) for SSIM, PSNR, MSE, MAE;
  the through-plane jump = mean |x(z+1) − x(z)| over the voxel pairs of neighbouring axial
  slices that touch the hole, for each method and for the truth; seconds per case (wall time of
  the method, the CLI's start-up and model loading included);
* two more through-plane measures, because the jump alone also rewards a rough fill: the jump
  ratio = the through-plane jump over the in-plane one (the mean of the same jump along x and
  along y), which is how much more neighbouring slices differ than neighbouring voxels of a
  slice, whatever the smoothness (the truth's is the reference); and the Δz error = mean
  |Δz prediction − Δz truth| over the same pairs (0 = the truth's through-plane changes);
* sweeps, for choosing settings on ``--region train``: ``--sweep`` (the 3-D fill mixed with
  another method) and ``--detail-sweep`` (medinpaint's final fill, after the guides, or without
  them medinpaint-no-mirror's when medinpaint is not run, as on the template; run with
  ``--detail-gain 0``, sharpened by :func:`medinpaint.inpainting.detail.restore_detail` at each
  sigma and gain),
  and ``--texture-sweep`` (the 3-D fill plus white noise of the surrounding tissue's fine-structure
  spread: a sample's texture instead of the mean), each scored from the same fill like the methods.

Run (heavy on 2 cores): ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_brats_protocol.py``
Writes ``--out`` (default results/brats_protocol/): metrics.csv, metrics.json, table.md, views.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation
from skimage.restoration import inpaint_biharmonic

from medinpaint.data.sample import heldout_slab, sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.detail import fine_structure, noise_share, restore_detail
from medinpaint.inpainting.mirror_plane import MirrorPlane, fit_mirror_plane, left_right_axis
from medinpaint.io.nifti import read_nifti
from medinpaint.masks import tissue_level
from medinpaint.tissue_contrast import tissue_class_means, tissue_voxels

METHODS = ("medinpaint", "medinpaint-no-mirror", "medinpaint-slices", "medinpaint-slices-guided", "biharmonic-2d", "biharmonic-3d")
CLI_OPTIONS = {
    "medinpaint-no-mirror": ["--no-mirror"],
    "medinpaint-slices": ["--fill", "slices", "--no-mirror"],
    "medinpaint-slices-guided": ["--fill", "slices"],
}  # medinpaint: the defaults
CLI = [sys.executable, "-c", "from medinpaint.cli import app; app()"]
DIAMETERS = (12.0, 36.0)
CROP_MARGIN = 8
TISSUE_EROSION = 3
THROUGH_PLANE = ("jump", "truth_jump", "ratio", "truth_ratio", "dz_error")
# --region train: holes in axial z = 30..85, below the held-out band z = 91..140 (the prior was
# trained there); used only to CHOOSE settings, never to report quality
TRAIN_REGION = (30, 86)


def tumour_hole(
    volume: np.ndarray,
    rng: np.random.Generator,
    region: str = "heldout",
    spacing=(1.0, 1.0, 1.0),
    diameters=DIAMETERS,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """(X, Y, Z) bool: a union of 2–3 rotated ellipsoids (``diameters`` in mm, voxels of ``spacing``
    mm) in healthy tissue inside the held-out slab (``region="train"``: inside ``TRAIN_REGION``;
    ``"volume"``: anywhere in the volume, for a volume no model saw); with ``within`` ((X, Y, Z)
    bool), only where it is True as well (a brain mask that leaves out the skull and a lesion)."""
    start, stop = {"heldout": (heldout_slab().start, heldout_slab().stop), "train": TRAIN_REGION, "volume": (0, volume.shape[2])}[region]
    brain = ndimage.binary_fill_holes(volume > tissue_level(volume))
    if within is not None:
        brain &= within
    allowed = ndimage.binary_erosion(brain, iterations=TISSUE_EROSION)
    allowed[:, :, :start] = allowed[:, :, stop:] = False
    spacing = np.asarray(spacing, float)
    half = np.ceil(diameters[1] / 2 / spacing).astype(int) + 1  # voxels along each axis
    grid = np.mgrid[tuple(slice(-h, h + 1) for h in half)]
    offsets = np.stack(grid, axis=-1) * spacing  # mm
    candidates = np.argwhere(allowed)
    while True:
        centre = candidates[rng.integers(len(candidates))]
        local = np.zeros(offsets.shape[:3], bool)
        shift = np.zeros(3)
        for _ in range(rng.integers(2, 4)):
            radii = rng.uniform(*diameters, size=3) / 2
            rotated = offsets @ Rotation.random(random_state=rng).as_matrix()
            local |= (((rotated - shift) / radii) ** 2).sum(axis=-1) <= 1
            shift = rng.uniform(-0.5, 0.5, size=3) * radii  # the next one starts inside this one
        hole = np.zeros(volume.shape, bool)
        box = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, half))
        if any(b.start < 0 or b.stop > s for b, s in zip(box, volume.shape)):
            continue
        hole[box] = local
        if ndimage.label(local)[1] == 1 and not (hole & ~allowed).any():
            return hole


def asymmetric_warp(volume: np.ndarray, spacing, largest_mm: float, rng: np.random.Generator, smoothness_mm: float = 6.0) -> np.ndarray:
    """``volume`` deformed by a smooth random displacement field whose largest displacement is ``largest_mm``
    (each axis's field: white noise smoothed by a Gaussian of ``smoothness_mm``); cubic interpolation."""
    spacing = np.asarray(spacing, float)
    fields = [ndimage.gaussian_filter(rng.standard_normal(volume.shape), smoothness_mm / spacing) for _ in range(3)]
    largest = max(float(np.sqrt(sum(f**2 for f in fields)).max()), 1e-12)
    grid = np.mgrid[tuple(slice(0, n) for n in volume.shape)].astype(float)
    coordinates = [g + f / largest * largest_mm / step for g, f, step in zip(grid, fields, spacing)]
    return ndimage.map_coordinates(volume.astype(np.float64), coordinates, order=3, mode="nearest").clip(min=0).astype(np.float32)


def head_pose(volume: np.ndarray, spacing, yaw: float, roll: float, shift_mm: float) -> np.ndarray:
    """``volume`` with the head turned as a subject lies in a scanner, unaligned with any template:
    rotated about the volume's centre by ``yaw`` degrees (about the third, superior axis) and ``roll``
    degrees (about the second, anterior axis), then moved ``shift_mm`` along the first (left-right)
    axis; cubic interpolation, 0 where the turned head leaves the grid's field of view."""
    spacing = np.asarray(spacing, float)
    rotation = Rotation.from_euler("zy", [yaw, roll], degrees=True).as_matrix()
    centre = (np.asarray(volume.shape) - 1) / 2 * spacing
    grid = np.mgrid[tuple(slice(0, n) for n in volume.shape)].reshape(3, -1).astype(float) * spacing[:, None]
    source = rotation.T @ (grid - centre[:, None] - np.array([shift_mm, 0.0, 0.0])[:, None]) + centre[:, None]  # where each voxel comes from
    moved = ndimage.map_coordinates(volume.astype(np.float64), source / spacing[:, None], order=3, mode="constant", cval=0.0)
    return moved.reshape(volume.shape).clip(min=0).astype(np.float32)


def resized_head(affine: np.ndarray, shape: tuple[int, ...], factors: tuple[float, ...]) -> np.ndarray:
    """``affine`` with each voxel axis ``factors`` times as long (one factor: all three), its centre
    voxel where it was: the same voxels as a head of another size.

    >>> resized_head(np.diag([2.0, 2.0, 2.0, 1.0]), (5, 5, 5), (0.5,))[:3].tolist()
    [[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 1.0, 2.0]]
    """
    factors = np.broadcast_to(np.asarray(factors, float), (3,))
    centre = (np.asarray(shape, float) - 1) / 2
    resized = affine.copy()
    resized[:3, :3] = affine[:3, :3] * factors
    resized[:3, 3] = affine[:3, 3] + (affine[:3, :3] - resized[:3, :3]) @ centre
    return resized


def left_right_bias(volume: np.ndarray, share: float) -> np.ndarray:
    """``volume`` times a bias field that rises linearly along the first (left-right) axis from
    1 − ``share`` to 1 + ``share``: a coil's inhomogeneity at its worst for the mirror guide, whose
    two sides then differ by up to twice ``share``."""
    ramp = np.linspace(-1.0, 1.0, volume.shape[0])[:, None, None]
    return (volume * (1.0 + share * ramp)).astype(np.float32)


CONTRASTS = {  # a T1's landmarks (0, CSF, grey matter, white matter, 99.9th percentile) -> these shares of its white matter mean
    "t2": (1.15, 1.0, 0.75, 0.5, 0.7),  # CSF brightest, white matter darkest; the darkest T1 voxels (pure CSF) brighter still
    "flair": (0.1, 0.35, 1.0, 0.8, 0.9),  # CSF dark, grey matter above white matter
}


def other_contrast(volume: np.ndarray, contrast: str) -> np.ndarray:
    """A T1 ``volume`` remapped piecewise linearly to another sequence's contrast: its landmarks (0,
    its three tissue class means, its 99.9th percentile) to :data:`CONTRASTS`' shares of its white
    matter mean; exact zeros (a skull-stripped background) stay 0.

    >>> t1 = np.repeat([0.0, 30.0, 60.0, 90.0], 2000).reshape(20, 20, 20)
    >>> np.unique(other_contrast(t1, "t2")).round(1).tolist()  # CSF 30 -> 90, grey matter 60 -> 67.5, white matter 90 -> 45
    [0.0, 45.0, 67.5, 90.0]
    """
    classes = tissue_class_means(tissue_voxels(volume, np.ones(volume.shape, bool)))
    if classes is None:
        raise ValueError("--contrast: the volume's three tissue classes do not separate")
    landmarks = np.r_[0.0, classes, max(float(np.percentile(volume, 99.9)), classes[2] * 1.01)]
    remapped = np.interp(np.maximum(volume, 0.0), landmarks, np.asarray(CONTRASTS[contrast]) * classes[2])
    return np.where(volume == 0, 0.0, remapped).astype(np.float32)


def rician_noise(volume: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``volume`` with Rician noise: the magnitude of it plus complex Gaussian noise of ``share`` × its 99.5th percentile."""
    sigma = share * float(np.percentile(volume, 99.5))
    real, imaginary = (rng.normal(0.0, sigma, volume.shape) for _ in range(2))
    return np.hypot(volume + real, imaginary).astype(np.float32)


def reflection_void(volume: np.ndarray, hole: np.ndarray, spacing, plane: MirrorPlane) -> np.ndarray:
    """(X, Y, Z) bool: a region to void as BraTS-Inpainting voids a tumour, outside the hole: across
    ``plane`` (the volume's mirror plane, fitted on the whole volume), from the middle of the hole's
    reflection outwards to the edge of the head, within the hole's largest distance from its centre
    across the plane's normal; nonzero voxels on the reflection's side of the plane only."""
    spacing, normal = np.asarray(spacing, float), plane.normal
    points = np.argwhere(hole) * spacing
    centre = points.mean(axis=0)
    reflected = centre - 2.0 * ((centre - plane.point) @ normal) * normal
    outward = normal if (reflected - plane.point) @ normal >= 0 else -normal
    radius = float(np.linalg.norm(np.cross(points - centre, normal), axis=1).max())
    grid = np.indices(volume.shape).reshape(3, -1).T * spacing
    along = (grid - reflected) @ outward
    across = np.linalg.norm(np.cross(grid - reflected, outward), axis=1)
    void = (along >= 0) & (across <= radius) & ((grid - plane.point) @ outward > 0)
    return void.reshape(volume.shape) & ~hole & (volume != 0)


def add_subject_options(parser: argparse.ArgumentParser) -> None:
    """The options that change the subject before the holes (module docstring): --contrast, --asymmetry, --pose, --bias, --void-reflection, --noise."""
    parser.add_argument(
        "--contrast", choices=sorted(CONTRASTS), default=None,
        help="remap the volume's T1 contrast first to a T2-like or FLAIR-like one through its tissue class means (other_contrast; the remapped volume is the truth)",
    )  # fmt: skip
    parser.add_argument(
        "--asymmetry", type=float, default=0.0,
        help="deform the volume first by a smooth random field of at most this many mm (the deformed volume is the truth)",
    )
    parser.add_argument("--pose", type=comma_floats, default=None, help="yaw,roll,shift: turn the head first by yaw and roll degrees and move it shift mm left-right (head_pose; the turned volume is the truth)")
    parser.add_argument(
        "--head-size", type=comma_floats, default=None,
        help="f or fx,fy,fz: the files' voxels f times as long (resized_head): the same voxels and holes as a head of another size",
    )  # fmt: skip
    parser.add_argument("--bias", type=float, default=0.0, help="multiply the volume first by a left-right ramp from 1 - bias to 1 + bias (left_right_bias; the biased volume is the truth)")
    parser.add_argument(
        "--void-reflection", action="store_true",
        help="also void (to 0, outside the mask) the other hemisphere from the middle of each hole's reflection out to the head's edge (reflection_void), as BraTS voids a tumour",
    )
    parser.add_argument(
        "--noise", type=float, default=0.0,
        help="Rician noise of this share of the volume's 99.5th percentile, added before the holes (the noisy volume is the truth)",
    )  # fmt: skip


def subject_truth(parser: argparse.ArgumentParser, args: argparse.Namespace, truth: np.ndarray, affine) -> np.ndarray:
    """``truth`` in another contrast, deformed, turned, biased and made noisy as ``add_subject_options``' options ask (seeded by --seed)."""
    if args.pose is not None and len(args.pose) != 3:
        parser.error(f"--pose {','.join(f'{v:g}' for v in args.pose)}: give three numbers, yaw,roll,shift (e.g. 12,-8,7)")
    spacing = nib.affines.voxel_sizes(affine)
    if args.contrast:
        try:
            truth = other_contrast(truth, args.contrast)
        except ValueError as error:
            parser.error(str(error))
    if args.asymmetry:
        truth = asymmetric_warp(truth, spacing, args.asymmetry, np.random.default_rng(args.seed + 2))
    if args.pose:
        truth = head_pose(truth, spacing, *args.pose)
    if args.bias:
        truth = left_right_bias(truth, args.bias)
    if args.noise:
        truth = rician_noise(truth, args.noise, np.random.default_rng(args.seed + 1))
    return truth


def subject_affine(parser: argparse.ArgumentParser, args: argparse.Namespace, affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The files' affine: ``affine`` as --head-size resizes it (:func:`resized_head`), or as it is."""
    if args.head_size is None:
        return affine
    if len(args.head_size) not in (1, 3) or min(args.head_size) <= 0:
        parser.error(f"--head-size {','.join(f'{v:g}' for v in args.head_size)}: give one factor or three, fx,fy,fz, each above 0 (e.g. 0.9)")
    return resized_head(affine, shape, args.head_size)


def reflection_plane(truth: np.ndarray, affine) -> MirrorPlane:
    """The truth's mirror plane, fitted on every voxel: where ``--void-reflection`` voids."""
    return fit_mirror_plane(truth, np.ones(truth.shape), nib.affines.voxel_sizes(affine), left_right_axis(affine[:3, :3]))


def voided_input(truth: np.ndarray, hole: np.ndarray, spacing, plane: MirrorPlane | None) -> tuple[np.ndarray, np.ndarray]:
    """``(void, voided)``: the region voided beside the hole (none without a plane) and the input, hole and void set to 0."""
    void = reflection_void(truth, hole, spacing, plane) if plane is not None else np.zeros(hole.shape, bool)
    return void, np.where(hole | void, 0, truth).astype(np.float32)


def comma_floats(text: str) -> tuple[float, ...]:
    """``--diameters``'s and ``--pose``'s "12,36" as (12.0, 36.0)."""
    return tuple(float(value) for value in text.split(","))


def sigma_gain_pairs(text: str) -> tuple[tuple[float, float], ...]:
    """``--detail-sweep``'s "1:0.75,0.5:1.5" as ((sigma, gain), ...)."""
    return tuple(tuple(float(v) for v in pair.split(":")) for pair in text.split(","))


def user_volume(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI volume as ``(volume (X, Y, Z) float32, affine)``, read as the CLI reads it."""
    volume, source = read_nifti(path)
    return volume, source.affine


def holes_region(parser: argparse.ArgumentParser, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """``--holes-in``'s mask as (X, Y, Z) bool, nonzero = where holes may lie; on the volume's grid."""
    try:
        region, _ = read_nifti(path)
    except MedinpaintError as error:
        parser.error(f"--holes-in: {error}")
    if region.shape != shape:
        parser.error(f"--holes-in {path}: its shape {region.shape} is not the volume's {shape}: give a mask on the volume's grid")
    return region != 0


def hole_crop(hole: np.ndarray, margin: int = CROP_MARGIN) -> tuple[slice, ...]:
    """The hole's bounding box grown by ``margin`` voxels, clipped to the volume."""
    found = np.argwhere(hole)
    return tuple(slice(max(int(lo) - margin, 0), min(int(hi) + 1 + margin, n)) for lo, hi, n in zip(found.min(0), found.max(0), hole.shape))


def biharmonic_2d(voided: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image biharmonic inpainting of each axial slice that the hole touches."""
    filled = voided.copy()
    for z in np.flatnonzero(hole.any(axis=(0, 1))):
        filled[:, :, z] = inpaint_biharmonic(np.ascontiguousarray(voided[:, :, z]), np.ascontiguousarray(hole[:, :, z]))
    return filled


def biharmonic_3d(voided: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image biharmonic inpainting of the 3-D crop around the hole (+ ``CROP_MARGIN`` voxels)."""
    filled, box = voided.copy(), hole_crop(hole)
    filled[box] = inpaint_biharmonic(np.ascontiguousarray(voided[box]), np.ascontiguousarray(hole[box]))
    return filled


def neighbour_differences(volume: np.ndarray, hole: np.ndarray, axis: int = 2) -> np.ndarray:
    """x(i+1) − x(i) along ``axis`` for the neighbouring voxel pairs of which at least one is in the hole."""
    box = hole_crop(hole, margin=1)  # every such pair lies in the hole's box + 1
    volume, hole = volume[box].astype(np.float64), hole[box]
    ahead = [slice(None)] * 3
    behind = list(ahead)
    ahead[axis], behind[axis] = slice(1, None), slice(None, -1)
    return np.diff(volume, axis=axis)[hole[tuple(ahead)] | hole[tuple(behind)]]


def through_plane_jump(volume: np.ndarray, hole: np.ndarray) -> float:
    """Mean |x(z+1) − x(z)| over neighbouring axial voxel pairs of which at least one is in the hole."""
    return float(np.abs(neighbour_differences(volume, hole)).mean())


def jump_ratio(volume: np.ndarray, hole: np.ndarray) -> float:
    """The through-plane jump over the in-plane one (the mean of the jumps along x and along y)."""
    in_plane = np.mean([np.abs(neighbour_differences(volume, hole, axis)).mean() for axis in (0, 1)])
    return through_plane_jump(volume, hole) / float(in_plane)


def through_plane_scores(prediction: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """The jump, the jump ratio and the Δz error (mean |Δz prediction − Δz truth| over the jump's pairs)."""
    errors = neighbour_differences(prediction, hole) - neighbour_differences(truth, hole)
    return {"jump": through_plane_jump(prediction, hole), "ratio": jump_ratio(prediction, hole), "dz_error": float(np.abs(errors).mean())}


def add_tissue_texture(filled: np.ndarray, hole: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """``filled`` plus white noise in the hole, of ``amount`` × the spread (standard deviation) of the
    fine structure ``x − G_σ * x`` (σ = ``DETAIL_SIGMA``) of the known voxels around it: a sample's
    texture on the mean fill, as lesion-filling tools add the surrounding tissue's noise."""
    box = hole_crop(hole)
    region = filled[box].astype(np.float64)
    spread = float(fine_structure(region)[~hole[box]].std())
    textured = filled.astype(np.float64)
    textured[hole] += amount * spread * rng.standard_normal(int(hole.sum()))
    return textured.astype(filled.dtype)


def case_files(folder: Path, voided: np.ndarray, hole: np.ndarray, truth: np.ndarray, affine) -> dict[str, Path]:
    """A case's files as a user has them, written to a new ``folder``: ``{"voided", "mask", "truth"}`` NIfTI paths."""
    folder.mkdir()
    files = {"voided": folder / "voided.nii.gz", "mask": folder / "mask.nii.gz", "truth": folder / "truth.nii.gz"}
    for role, array in (("voided", voided), ("mask", hole.astype(np.uint8)), ("truth", truth)):
        nib.save(nib.Nifti1Image(array, affine), str(files[role]))
    return files


def run_cli(arguments: list[str]) -> str:
    """Run the medinpaint CLI as a user would; its stdout (a failure stops the benchmark with its stderr)."""
    done = subprocess.run([*CLI, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"medinpaint {' '.join(arguments[:1])} failed:\n{done.stderr}")
    return done.stdout


def brats_scores(prediction: Path, files: dict[str, Path]) -> dict[str, float]:
    """``medinpaint score --protocol brats --json`` of a prediction file, as a user runs it."""
    return json.loads(run_cli([
        "score", "--protocol", "brats", "--json", "--prediction", str(prediction), "--truth", str(files["truth"]),
        "--voided", str(files["voided"]), "--mask", str(files["mask"]),
    ]))  # fmt: skip


def run_method(method: str, files: dict[str, Path], voided: np.ndarray, hole: np.ndarray, affine, extra: list[str]) -> tuple[Path, float]:
    """Fill with ``method``; returns the prediction file and the seconds it took."""
    prediction = files["voided"].with_name(f"{method}.nii.gz")
    started = time.perf_counter()
    if method.startswith("medinpaint"):
        run_cli(["inpaint", "-i", str(files["voided"]), "-m", str(files["mask"]), "-o", str(prediction), *CLI_OPTIONS.get(method, []), *extra])
    else:
        filled = (biharmonic_3d if method == "biharmonic-3d" else biharmonic_2d)(voided, hole)
        nib.save(nib.Nifti1Image(filled.astype(np.float32), affine), str(prediction))
    return prediction, time.perf_counter() - started


def score_extra(rows: list[dict], name: str, volume: np.ndarray, folder: Path, files, affine, truth, hole, truth_scores: dict, case: int) -> None:
    """Score a volume made from the methods' fills (a sweep's row) as a file, like the methods; appends and prints its row."""
    path = folder / f"{name.replace(' ', '_')}.nii.gz"
    nib.save(nib.Nifti1Image(volume.astype(np.float32), affine), str(path))
    rows.append({"case": case, "method": name, **brats_scores(path, files), **through_plane_scores(volume, truth, hole), **truth_scores, "seconds": float("nan")})
    print(table([rows[-1]]).splitlines()[-1], flush=True)


def views_figure(path: Path, volumes: dict[str, np.ndarray], hole: np.ndarray) -> None:
    """Axial, coronal and sagittal views through the hole's centre: input, medinpaint, biharmonic 3-D, truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centre = np.argwhere(hole).mean(axis=0).round().astype(int)
    box = hole_crop(hole, margin=24)
    span = np.percentile(volumes["truth"], 99.5)
    cuts = {"axial": 2, "coronal": 1, "sagittal": 0}
    figure, axes = plt.subplots(len(cuts), len(volumes), figsize=(2.6 * len(volumes), 2.7 * len(cuts)), squeeze=False)
    for row, (name, axis) in enumerate(cuts.items()):
        index = [box[0], box[1], box[2]]
        index[axis] = int(centre[axis])
        for col, (label, volume) in enumerate(volumes.items()):
            plane = volume[tuple(index)]
            outline = hole[tuple(index)]
            ax = axes[row, col]
            ax.imshow(np.rot90(plane), cmap="gray", vmin=0, vmax=span)
            ax.contour(np.rot90(outline), levels=[0.5], colors="red", linewidths=0.6)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(label, fontsize=9)
            if col == 0:
                ax.set_ylabel(f"{name} {'xyz'[axis]}={centre[axis]}", fontsize=9)
    figure.suptitle("3-D hole (red: hole outline)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)


def mean_rows(rows: list[dict]) -> list[dict]:
    """Mean of every numeric column per method (seconds: the median)."""
    means = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        mean = {"case": "mean", "method": method}
        for key in ("ssim", "psnr", "mse", "mae", *THROUGH_PLANE):
            mean[key] = float(np.mean([r[key] for r in mine]))
        mean["seconds"] = float(np.median([r["seconds"] for r in mine]))
        means.append(mean)
    return means


def table(rows: list[dict]) -> str:
    header = (
        "| case | method | SSIM | PSNR (dB) | MSE | MAE | jump | truth jump | jump ratio | truth ratio | Δz error | s/case |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['case']} | {r['method']} | {r['ssim']:.4f} | {r['psnr']:.2f} | {r['mse']:.5f} | {r['mae']:.4f} | "
        f"{r['jump']:.2f} | {r['truth_jump']:.2f} | {r['ratio']:.2f} | {r['truth_ratio']:.2f} | {r['dz_error']:.2f} | {r['seconds']:.1f} |"
        for r in rows
    ]
    return "\n".join([header, *lines])


def comparison_table(rows: list[dict], by: str, reference: str, header: list[str], cells) -> str:
    """A markdown table with one row per value of ``row[by]``: its name, then ``cells(mine, mean, up)``,
    where ``mean(key)`` is the mean over its cases and ``up(key)`` says in how many cases it is above
    the ``reference`` row of the same case (blank for the reference itself)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    references = {r["case"]: r for r in rows if r[by] == reference}
    for name in dict.fromkeys(r[by] for r in rows):
        mine = [r for r in rows if r[by] == name]

        def mean(key: str) -> float:
            return float(np.mean([r[key] for r in mine]))

        def up(key: str) -> str:
            return "" if name == reference else f"{sum(r[key] > references[r['case']][key] for r in mine)} / {len(mine)}"

        lines.append("| " + " | ".join([name, *cells(mine, mean, up)]) + " |")
    return "\n".join(lines)


def fill_table(rows: list[dict], reference: str, title: str) -> str:
    """:func:`comparison_table` of rows keyed by ``"fill"``: mean SSIM, PSNR and MAE, the cases above
    ``reference`` in SSIM and in PSNR, and the median seconds; ``title`` heads the first column."""
    header = [title, "SSIM", "PSNR (dB)", "MAE", "SSIM up", "PSNR up", "s / case (median)"]
    return comparison_table(rows, "fill", reference, header, lambda mine, mean, up: [
        f"{mean('ssim'):.4f}", f"{mean('psnr'):.2f}", f"{mean('mae'):.4f}", up("ssim"), up("psnr"),
        f"{np.median([r['seconds'] for r in mine]):.1f}",
    ])  # fmt: skip


def write_results(out: Path, rows: list[dict], table_text: str) -> None:
    """Write ``rows`` to ``out``/metrics.csv and ``table_text`` to ``out``/table.md, and print the table."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "table.md").write_text(table_text + "\n")
    print(table_text)
    print(f"written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--iterations", type=int, default=None, help="pass --iterations to medinpaint (default: the CLI's)")
    parser.add_argument("--restarts", type=int, default=None, help="pass --restarts to medinpaint (default: the CLI's)")
    parser.add_argument("--checkpoint", default=None, help="pass --checkpoint to medinpaint (default: the CLI's)")
    parser.add_argument("--method", default=None, help="pass --method to medinpaint (network, search; default: the CLI's)")
    parser.add_argument("--prior-weight", type=float, default=None, help="pass --prior-weight to medinpaint (default: the CLI's)")
    parser.add_argument("--detail-gain", type=float, default=None, help="pass --detail-gain to medinpaint (default: the CLI's)")
    parser.add_argument(
        "--detail-sweep", type=sigma_gain_pairs, default=(),
        help="comma-separated sigma:gain pairs: also score restore_detail(fill, gain, sigma) for each, the fill being "
        "medinpaint's final one (after the guides), or medinpaint-no-mirror's when medinpaint is not run (the template); "
        "run with --detail-gain 0 (where no guide moves the fill, sigma 1 at the model's voxel size is what "
        "--detail-gain gain gives on a noise-free volume)",
    )  # fmt: skip
    parser.add_argument(
        "--texture-sweep", default=None,
        help="comma-separated amounts: also score add_tissue_texture(medinpaint's fill, amount) for each (seeded by "
        "--seed and the case; the fill as the CLI's defaults give it)",
    )  # fmt: skip
    parser.add_argument("--flip-restarts", action=argparse.BooleanOptionalAction, default=None, help="pass --flip-restarts / --no-flip-restarts to medinpaint (default: the CLI's)")
    parser.add_argument("--find-brain", action=argparse.BooleanOptionalAction, default=None, help="pass --find-brain / --no-find-brain to medinpaint (default: the CLI's)")
    parser.add_argument("--region", choices=("heldout", "train"), default="heldout", help="train: for choosing settings only")
    parser.add_argument(
        "--volume", type=Path, default=None,
        help="a NIfTI T1 volume no model saw, instead of the template: holes anywhere in its tissue, sized in mm",
    )  # fmt: skip
    parser.add_argument(
        "--holes-in", type=Path, default=None,
        help="with --volume: a NIfTI mask on its grid, holes only where it is nonzero (the brain of a volume with its "
        "skull, less any lesion)",
    )  # fmt: skip
    parser.add_argument(
        "--brain-mask", type=Path, default=None,
        help="with --volume: pass the method medinpaint --brain-mask with this NIfTI brain mask on the volume's grid (a head "
        "with its skull; the others do not guide)",
    )  # fmt: skip
    parser.add_argument(
        "--sweep", default=None,
        help="comma-separated weights: also score w·medinpaint + (1−w)·(the --sweep-with method) for each (run with "
        "--prior-weight 1 and both methods); with biharmonic-3d, exactly what --prior-weight w gives, from one fill",
    )  # fmt: skip
    parser.add_argument("--sweep-with", default="biharmonic-3d", choices=[m for m in METHODS if m != "medinpaint"], help="the method --sweep mixes medinpaint with")
    parser.add_argument(
        "--diameters", type=comma_floats, default=DIAMETERS,
        help="smallest,largest ellipsoid diameter (mm) of the holes (default: 12,36, tumour-sized)",
    )
    add_subject_options(parser)
    parser.add_argument("--out", type=Path, default=Path("results/brats_protocol"))
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    sharpened_method = next((m for m in ("medinpaint", "medinpaint-no-mirror") if m in methods), None)
    if args.detail_sweep and (args.detail_gain != 0.0 or sharpened_method is None):
        parser.error("--detail-sweep sharpens medinpaint's final fill: pass --detail-gain 0 and the method medinpaint (or medinpaint-no-mirror)")
    if args.sweep and (args.prior_weight != 1.0 or not {"medinpaint", args.sweep_with} <= set(methods)):
        parser.error(f"--sweep mixes the unshrunk 3-D fill with {args.sweep_with}: pass --prior-weight 1 and both methods")
    unknown = set(methods) - set(METHODS)
    if unknown:
        sys.exit(f"unknown method(s) {sorted(unknown)}: use {', '.join(METHODS)}")
    extra = [f"--{name}={value}" for name, value in (("iterations", args.iterations), ("restarts", args.restarts), ("checkpoint", args.checkpoint), ("method", args.method), ("prior-weight", args.prior_weight), ("detail-gain", args.detail_gain)) if value is not None]
    for name, value in (("flip-restarts", args.flip_restarts), ("find-brain", args.find_brain)):
        if value is not None:
            extra.append(f"--{name}" if value else f"--no-{name}")
    for name, given in (("--holes-in", args.holes_in), ("--brain-mask", args.brain_mask)):
        if given is not None and args.volume is None:
            parser.error(f"{name} is a mask on a volume of your own: pass --volume too")
        if given is not None and (args.pose or args.asymmetry):
            parser.error(f"{name} is on the volume's grid as given, which --pose and --asymmetry move the head off: drop one of them")
    guided = [] if args.brain_mask is None else [f"--brain-mask={args.brain_mask.resolve()}"]  # for the guided method only
    if args.volume is not None and args.region != "heldout":
        parser.error("--volume places holes anywhere in that volume: drop --region")
    truth, affine = sample_volume() if args.volume is None else user_volume(args.volume)
    within = holes_region(parser, args.holes_in, truth.shape) if args.holes_in is not None else None
    truth = subject_truth(parser, args, truth, affine)
    print(f"volume noise estimate: {noise_share(truth, np.ones(truth.shape)):.3f} of its 99.5th percentile", flush=True)
    spacing = nib.affines.voxel_sizes(affine)
    region = "volume" if args.volume is not None else args.region
    rng = np.random.default_rng(args.seed)
    plane = reflection_plane(truth, affine) if args.void_reflection else None
    affine = subject_affine(parser, args, affine, truth.shape)  # after the holes' geometry: the same voxels, another size in mm
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            hole = tumour_hole(truth, rng, region, spacing, args.diameters, within)
            void, voided = voided_input(truth, hole, spacing, plane)
            folder = Path(tmp) / f"case{case}"
            files = case_files(folder, voided, hole, truth, affine)
            found = np.argwhere(hole)
            truth_scores = {"truth_jump": through_plane_jump(truth, hole), "truth_ratio": jump_ratio(truth, hole)}
            print(f"case {case}: {int(hole.sum())} voxels, z {found[:, 2].min()}..{found[:, 2].max()}, {int(void.sum())} voided beside it", flush=True)
            predictions = {}
            for method in methods:
                prediction, seconds = run_method(method, files, voided, hole, affine, extra + (guided if method == "medinpaint" else []))
                scores = brats_scores(prediction, files)
                predictions[method] = np.asarray(nib.load(str(prediction)).dataobj, np.float32)
                row = {"case": case, "method": method, **scores, **through_plane_scores(predictions[method], truth, hole), **truth_scores, "seconds": seconds}
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
            for weight in [float(w) for w in args.sweep.split(",")] if args.sweep else []:
                mixed = np.where(hole, weight * predictions["medinpaint"] + (1 - weight) * predictions[args.sweep_with], voided)
                score_extra(rows, f"mix w={weight} with {args.sweep_with}", mixed, folder, files, affine, truth, hole, truth_scores, case)
            for sigma, gain in args.detail_sweep:
                sharpened = restore_detail(predictions[sharpened_method], (~hole).astype(np.float32), gain, sigma)
                score_extra(rows, f"detail sigma={sigma:g} gain={gain:g}", sharpened, folder, files, affine, truth, hole, truth_scores, case)
            for amount in [float(a) for a in args.texture_sweep.split(",")] if args.texture_sweep else []:
                textured = add_tissue_texture(predictions["medinpaint"], hole, amount, np.random.default_rng([args.seed, case]))
                score_extra(rows, f"texture {amount:g}", textured, folder, files, affine, truth, hole, truth_scores, case)
            if case == 0:
                shown = {"input": voided, **{m: predictions[m] for m in ("medinpaint", "biharmonic-3d") if m in predictions}, "truth": truth}
                views_figure(args.out / "views.png", shown, hole)
    rows += mean_rows(rows)
    (args.out / "metrics.json").write_text(json.dumps({"arguments": vars(args), "rows": rows}, indent=2, default=str))
    write_results(args.out, rows, table(rows))


if __name__ == "__main__":
    main()
