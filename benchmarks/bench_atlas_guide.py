"""Prototype benchmark: guide a hole's midline part by the embedded template placed on the subject.

Not in the product yet (measured 2026-12-05, docs/results.md "A template guide for the midline").
The mirror guide (:mod:`medinpaint.inpainting.mirror_guide`) has nothing to read where a hole's
reflection lies in the hole too (a hole across the midline); there the CLI's fill is the network's
posterior mean, and those are its weakest cases. This measures, on the same holes as
``bench_brats_protocol.py`` (same ``--seed``, ``--volume``, ``--pose``: same cases), whether the
embedded MNI152 T1, placed on the subject, can guide that part:

1. placement: the template is registered to the voided input's readable voxels (known, not exactly
   0) by a 7-parameter transform (rotation, translation, one isotropic scale within ±15 %) that
   maximises the correlation of the template with the input over the template's brain, on grids of
   6 mm then 3 mm (Adam, torch ``grid_sample``); started from the images' world coordinates and
   from their tissue centres, the better kept;
2. contrast: the placed template mapped piecewise linearly through 0 and its three tissue class
   means onto the input's (:func:`medinpaint.tissue_contrast.tissue_class_means`);
3. the hole filled from it as the mirror guide fills from the mirror image
   (:func:`~medinpaint.inpainting.mirror_guide.mirror_guided_fill`: the guide plus the 3-D
   biharmonic continuation of the difference on the known voxels around), with the mirror guide's
   ring check for a weight w (:func:`~medinpaint.inpainting.mirror_guide._ring_weight`);
4. rows: ``medinpaint`` (the CLI's defaults, as ``bench_brats_protocol.py`` runs it),
   ``template-guided`` (step 3 alone), ``midline template`` (the CLI's fill moved towards the
   template-guided fill by w times the share of the hole voxels without a mirror image, Gaussian-
   smoothed over 1.5 voxels: the template only where the mirror has nothing), ``biharmonic-3d``;
   scored with ``medinpaint score --protocol brats``.

The template is the training data of the shipped model: on the template itself this measures
nothing. nibabel's real T1 is SPM-normalised (warped towards a template), so the placement is
easier there than on a subject in its own space; ``--pose`` turns it first (the turned head must
be found again by the registration), ``--asymmetry`` deforms it (a shape the template does not
have), and the other options of ``bench_brats_protocol.py`` that change the subject
(``--bias``, ``--void-reflection``, ``--noise``) apply as there.

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_atlas_guide.py --volume $A --cases 8 --out results/atlas_real8``
Writes ``--out``: metrics.json (rows as ``bench_brats_protocol.py``'s, for ``case_intervals.py``), table.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from bench_brats_protocol import (
    DIAMETERS, add_subject_options, brats_scores, case_files, jump_ratio, mean_rows, reflection_plane, run_method, score_extra,
    subject_truth, table, through_plane_jump, through_plane_scores, tumour_hole, user_volume, voided_input, write_results,
)  # fmt: skip
from scipy import ndimage

from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.mirror_guide import _ring_weight, mirror_guided_fill
from medinpaint.inpainting.mirror_plane import fit_mirror_plane, left_right_axis, mirror_image
from medinpaint.tissue_contrast import tissue_class_means, tissue_voxels

GRIDS_MM = (6.0, 3.0)  # registration grids
STEPS = (200, 100)  # Adam steps on each
RATES = (0.02, 0.005)
MAX_POINTS = 30_000  # subject voxels, evenly thinned, per grid
MAX_SCALE = 0.15  # the isotropic scale stays within 1 ± this
SHARE_SIGMA = 1.5  # voxels: the smoothing of the hole's no-mirror-image share


def _rotation(angles: torch.Tensor) -> torch.Tensor:
    """(3, 3) rotation, z·y·x Euler ``angles`` (radians)."""
    (cx, cy, cz), (sx, sy, sz) = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones(()), torch.zeros(())
    about_x = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx]).reshape(3, 3)
    about_y = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy]).reshape(3, 3)
    about_z = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one]).reshape(3, 3)
    return about_z @ about_y @ about_x


def _correlation(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    weight = weight / weight.sum().clamp_min(1e-6)
    da, db = a - (weight * a).sum(), b - (weight * b).sum()
    return (weight * da * db).sum() / torch.sqrt((weight * da * da).sum() * (weight * db * db).sum() + 1e-12)


class TemplatePlacement:
    """The embedded template and its brain as channels of one tensor, sampled at subject world points under 7 parameters."""

    def __init__(self, template: np.ndarray, template_affine: np.ndarray, sigma_mm: float = 0.0) -> None:
        smooth = ndimage.gaussian_filter(template.astype(np.float32), sigma_mm) if sigma_mm else template.astype(np.float32)
        self.channels = torch.tensor(np.stack([smooth, (template > 0).astype(np.float32)]))[None]
        self.inverse = torch.tensor(np.linalg.inv(template_affine), dtype=torch.float32)
        self.half = torch.tensor((np.asarray(template.shape) - 1) / 2, dtype=torch.float32)
        brain = np.argwhere(template > 0)
        self.centre = torch.tensor(template_affine[:3, :3] @ brain.mean(axis=0) + template_affine[:3, 3], dtype=torch.float32)

    def sample(self, world: torch.Tensor, shift: torch.Tensor, parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(template value, brain share) at subject world points (N, 3) moved by ``shift`` and then the parameters
        (translation in cm, angles, scale) about the template's brain centre."""
        scale = torch.exp(MAX_SCALE * torch.tanh(parameters[6]))
        moved = (world + shift - self.centre) @ (scale * _rotation(parameters[3:6])).T + self.centre + 10.0 * parameters[:3]
        voxels = moved @ self.inverse[:3, :3].T + self.inverse[:3, 3]
        grid = (voxels / self.half - 1).flip(-1)[None, None, None]  # grid_sample reads (z, y, x) for (X, Y, Z) arrays
        values = torch.nn.functional.grid_sample(self.channels, grid, align_corners=True)[0, :, 0, 0]
        return values[0], values[1]


def _points(volume: np.ndarray, readable: np.ndarray, affine: np.ndarray, grid_mm: float) -> tuple[torch.Tensor, torch.Tensor]:
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    step = np.maximum(1, np.round(grid_mm / spacing).astype(int))
    smooth = ndimage.gaussian_filter(volume, grid_mm / 2 / spacing)
    indices = np.argwhere(readable[:: step[0], :: step[1], :: step[2]]) * step
    indices = indices[np.linspace(0, len(indices) - 1, min(len(indices), MAX_POINTS)).astype(int)]
    world = indices @ affine[:3, :3].T + affine[:3, 3]
    return torch.tensor(world, dtype=torch.float32), torch.tensor(smooth[tuple(indices.T)], dtype=torch.float32)


@lru_cache(maxsize=1)
def _placements() -> tuple[TemplatePlacement, ...]:
    """The template read once per run: at full resolution, then smoothed for each registration grid."""
    template, template_affine = sample_volume()
    return tuple(TemplatePlacement(template, template_affine, sigma) for sigma in (0.0, *(grid / 2 for grid in GRIDS_MM)))


def place_template(volume: np.ndarray, readable: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The embedded template registered to ``volume`` (module docstring, 1): ``(values, brain share, correlation)`` on its grid."""
    full, *levels = _placements()
    tissue = readable & (volume > np.percentile(volume[readable], 30))
    subject_centre = affine[:3, :3] @ np.argwhere(tissue).mean(axis=0) + affine[:3, 3]
    starts = [torch.zeros(3), full.centre - torch.tensor(subject_centre, dtype=torch.float32)]
    points = [_points(volume, readable, affine, grid) for grid in GRIDS_MM]
    best = None
    for shift in starts:
        parameters = torch.zeros(7, requires_grad=True)
        for level, (world, values), steps, rate in zip(levels, points, STEPS, RATES):
            optimiser = torch.optim.Adam([parameters], lr=rate)
            for _ in range(steps):
                optimiser.zero_grad()
                placed, brain = level.sample(world, shift, parameters)
                loss = -_correlation(placed, values, brain)
                loss.backward()
                optimiser.step()
        if best is None or -loss.item() > best[0]:
            best = (-loss.item(), shift, parameters.detach())
    correlation, shift, parameters = best
    world = torch.tensor(np.indices(volume.shape).reshape(3, -1).T @ affine[:3, :3].T + affine[:3, 3], dtype=torch.float32)
    with torch.no_grad():
        values, brain = full.sample(world, shift, parameters)
    return values.numpy().reshape(volume.shape), brain.numpy().reshape(volume.shape), correlation


def template_in_subject_contrast(placed: np.ndarray, voided: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The placed template mapped piecewise linearly through 0 and its three tissue class means onto the input's (module docstring, 2)."""
    subject = tissue_class_means(tissue_voxels(voided, known.astype(np.float32)))
    own = tissue_class_means(tissue_voxels(placed, np.ones(placed.shape, np.float32)))
    mapped = np.interp(placed, np.r_[0.0, own], np.r_[0.0, subject])
    slope = (subject[-1] - subject[-2]) / (own[-1] - own[-2])
    return np.where(placed > own[-1], subject[-1] + (placed - own[-1]) * slope, mapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volume", type=Path, required=True, help="a NIfTI T1 volume no model saw")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    add_subject_options(parser)
    parser.add_argument("--out", type=Path, default=Path("results/atlas_guide"))
    args = parser.parse_args()
    truth, affine = user_volume(args.volume)
    truth = subject_truth(parser, args, truth, affine)
    spacing = nib.affines.voxel_sizes(affine)
    void_plane = reflection_plane(truth, affine) if args.void_reflection else None
    rng, rows = np.random.default_rng(args.seed), []
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            hole = tumour_hole(truth, rng, "volume", spacing, DIAMETERS)
            void, voided = voided_input(truth, hole, spacing, void_plane)
            readable = ~hole & (voided != 0)
            folder = Path(tmp) / f"case{case}"
            files = case_files(folder, voided, hole, truth, affine)
            placed, brain, correlation = place_template(voided, readable, affine)
            guide = np.where(brain > 0.5, template_in_subject_contrast(placed, voided, readable), np.nan)
            weight = _ring_weight(voided, readable, hole, guide)
            guided = np.where(hole, np.nan_to_num(mirror_guided_fill(voided, readable, hole, guide)), truth)
            plane = fit_mirror_plane(voided, readable, spacing, left_right_axis(affine[:3, :3]))
            no_mirror = (hole & ~np.isfinite(mirror_image(voided, readable, plane, spacing))).astype(float)
            share = weight * np.clip(ndimage.gaussian_filter(no_mirror, SHARE_SIGMA), 0.0, 1.0)
            truth_scores = {"truth_jump": through_plane_jump(truth, hole), "truth_ratio": jump_ratio(truth, hole)}
            first, given = len(rows), {}
            for method in ("medinpaint", "biharmonic-3d"):
                path, seconds = run_method(method, files, voided, hole, affine, [])
                given[method] = np.asarray(nib.load(str(path)).dataobj, np.float32)
                rows.append({"case": case, "method": method, **brats_scores(path, files), **through_plane_scores(given[method], truth, hole), **truth_scores, "seconds": seconds})
            midline = np.where(hole, (1 - share) * given["medinpaint"] + share * guided, truth)
            for name, filled in (("template-guided", guided), ("midline template", midline)):
                score_extra(rows, name, filled, folder, files, affine, truth, hole, truth_scores, case)
            extras = {"weight": weight, "correlation": correlation, "no_mirror_share": float(no_mirror[hole].mean())}
            for row in rows[first:]:
                row.update(extras)
            print(f"case {case}: {int(hole.sum())} voxels, placement correlation {correlation:.3f}, ring weight {weight:.2f}, "
                  f"{no_mirror[hole].mean():.0%} without a mirror image; " + "; ".join(
                  f"{r['method']} {r['ssim']:.4f} / {r['psnr']:.2f}" for r in rows[first:]), flush=True)  # fmt: skip
    rows += mean_rows(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps({"arguments": vars(args), "rows": rows}, indent=2, default=str))
    write_results(args.out, rows, table(rows))


if __name__ == "__main__":
    main()
