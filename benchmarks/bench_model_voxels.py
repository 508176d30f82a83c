"""Benchmark: voxels other than the model's 1 mm, filled on the volume's own grid or on the model's.

Sets :data:`medinpaint.inpainting.fill_grid.MIN_FINE_RATIO` (docs/training.md, "Voxels finer than
the model's") and checks what the model's grid would do for voxels a little coarser than its
(1 × 1 × 1.3 mm, below the finer grid's split at 1.5). The template's training side (axial
z = 25..90, clear of the held-out band z = 91..140 and its margin), cubic-spline resampled to
``--voxel`` mm (one size, or three: X, Y, Z; a stand-in for such a scan whose truth is known);
tumour-sized holes (:func:`bench_brats_protocol.tumour_hole`,
sized in mm, anywhere in its tissue; seeded); per case, in-process:

* ``biharmonic-3d``: :func:`medinpaint.inpainting.biharmonic3d.biharmonic_fill_3d`;
* ``own grid``: the CLI's 3-D fill (``inpaint_volume(method="network", spacing=...)``, the MR scale of
  the known voxels) with the volume filled on its own grid;
* ``model's grid``: the same fill, forced onto the model's 1 mm voxels along every axis whose voxels
  are not 1 mm (:func:`fill_grid.on_model_grid`).

Scores: the BraTS protocol (:func:`medinpaint.metrics.scoring.score_volumes`), the mean over the
cases, and in how many cases each fill beats the own grid. For choosing only: the held-out check
is ``bench_brats_protocol.py --volume`` on the held-out slab resampled the same way (docs/results.md).

Run: ``cd benchmarks && flock /tmp/medinpaint-cpu.lock python bench_model_voxels.py --voxel 0.85 --out ../results/fine_voxels_085``
Writes ``--out``: metrics.csv, table.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from scipy import ndimage

import medinpaint.volume_inpainting as volume_inpainting
from bench_brats_protocol import fill_table, tumour_hole, write_results
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_path
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.metrics.scoring import score_volumes

TRAINING_SIDE = slice(25, 91)  # axial slices of the template below the held-out band's margin
OWN_ROW, MODEL_ROW = "own grid", "model's grid"


def training_side(voxel_mm: tuple[float, float, float]) -> np.ndarray:
    """The template's training side resampled to ``voxel_mm`` (cubic spline, clipped at 0)."""
    crop = np.asanyarray(nib.load(sample_path()).dataobj).astype(np.float32)[:, :, TRAINING_SIDE]
    return np.clip(ndimage.zoom(crop, [1 / size for size in voxel_mm], order=3, mode="nearest"), 0, None).astype(np.float32)


def voxel_sizes(text: str) -> tuple[float, float, float]:
    """``--voxel``'s "0.85" or "1,1,1.3" as (X, Y, Z) mm."""
    sizes = tuple(float(size) for size in text.split(","))
    return sizes * 3 if len(sizes) == 1 else sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voxel", type=voxel_sizes, required=True, help="the resampled volume's voxel size in mm: one, or X,Y,Z")
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/fine_voxels"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    truth, spacing = training_side(args.voxel), args.voxel
    models = load_models(device="cpu")
    grids = {OWN_ROW: lambda sizes, model_mm: None, MODEL_ROW: lambda sizes, model_mm: tuple(size / model_mm for size in sizes)}
    rng = np.random.default_rng(args.seed)
    rows = []
    for case in range(args.cases):
        hole = tumour_hole(truth, rng, "volume", spacing)
        voided = np.where(hole, 0, truth).astype(np.float32)
        known = (~hole).astype(np.float32)
        intensity = models.normalisation.intensity_for(voided[~hole])  # the CLI's scale for a mask file
        started = time.perf_counter()
        predictions = {"biharmonic-3d": biharmonic_fill_3d(voided, known).astype(np.float32)}
        seconds = {"biharmonic-3d": time.perf_counter() - started}
        for name, zooms in grids.items():
            volume_inpainting.model_grid_zooms = zooms  # the grid rule, forced for this row
            started = time.perf_counter()
            predictions[name] = volume_inpainting.inpaint_volume(voided, known, models, intensity, method="network", spacing=spacing).filled
            seconds[name] = time.perf_counter() - started
        for name, prediction in predictions.items():
            rows.append({"case": case, "fill": name, "voxels": int(hole.sum()), **score_volumes(prediction, truth, voided, hole), "seconds": seconds[name]})
            print(f"case {case} ({int(hole.sum())} voxels) {name:14s} SSIM {rows[-1]['ssim']:.4f} PSNR {rows[-1]['psnr']:.2f}", flush=True)
    write_results(args.out, rows, fill_table(rows, OWN_ROW, f"fill (template's training side at {' × '.join(f'{size:g}' for size in args.voxel)} mm)"))


if __name__ == "__main__":
    main()
