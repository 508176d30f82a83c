"""Benchmark: what the finer grid costs for a large hole on thin pixels and thick slices.

One held-out tumour hole of the template (:func:`bench_brats_protocol.tumour_hole`, seed 3), the
volume averaged over 5 axial slices and resampled in-plane to 0.5 mm (``ndimage.zoom`` order 1):
a 0.5 × 0.5 × 5 mm stand-in with a 14 312-voxel hole.

1. the 3-D biharmonic fill (:func:`medinpaint.inpainting.biharmonic3d.biharmonic_fill_3d`, the
   finer grid's base) of the hole's box split 1–5× through-plane: seconds against unknowns;
2. the 3-D network fill with the voxel size (the CLI's finer grid) under each hole budget of
   ``--budgets`` (:data:`medinpaint.inpainting.fill_grid.MAX_FINE_HOLE`, set for the run: the
   split it allows) and without (the volume's own grid): seconds, BraTS-protocol SSIM and PSNR.

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_fill_grid_cost.py --budgets 40000,80000``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import ndimage

from bench_brats_protocol import tumour_hole
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.inpainting import fill_grid
from medinpaint.inpainting.fill_grid import block_mean, grid_factors, model_voxel_mm, upsample
from medinpaint.inpainting.poisson3d import hole_box
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.metrics.scoring import score_volumes
from medinpaint.volume_inpainting import inpaint_volume

SPACING = (0.5, 0.5, 5.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budgets", default=str(fill_grid.MAX_FINE_HOLE), help="comma-separated hole budgets (fine voxels) to fill under")
    args = parser.parse_args()
    torch.set_num_threads(2)
    template = sample_volume()[0].astype(np.float32)[:, :, :185]
    hole = tumour_hole(sample_volume()[0], np.random.default_rng(3), "heldout")[:, :, :185]
    thick, thick_hole = block_mean(template, (1, 1, 5)), block_mean(hole.astype(np.float32), (1, 1, 5)) > 0
    truth = ndimage.zoom(thick, (2, 2, 1), order=1).astype(np.float32)
    hole = ndimage.zoom(thick_hole.astype(np.uint8), (2, 2, 1), order=0) > 0
    voided, known = np.where(hole, 0, truth).astype(np.float32), (~hole).astype(np.float32)
    print(f"volume {truth.shape} of {SPACING} mm, hole {int(hole.sum())} voxels")
    box = hole_box(hole, margin=7)
    print("| split through-plane | unknowns | biharmonic 3-D (s) |\n|---|---|---|")
    for factor in (1, 2, 3, 4, 5):
        fine_hole = np.repeat(hole[box], factor, axis=2)
        started = time.perf_counter()
        biharmonic_fill_3d(upsample(truth[box], (1, 1, factor)).astype(np.float32), (~fine_hole).astype(np.float32))
        print(f"| {factor} | {int(fine_hole.sum())} | {time.perf_counter() - started:.1f} |", flush=True)
    models = load_models(device="cpu")
    intensity = models.normalisation.intensity_for(torch.from_numpy(voided))
    print("| 3-D network fill | split | s | SSIM | PSNR (dB) |\n|---|---|---|---|---|")
    runs = [(f"finer grid, budget {int(budget)}", SPACING, int(budget)) for budget in args.budgets.split(",")]
    for name, spacing, budget in runs + [("volume's own grid", None, fill_grid.MAX_FINE_HOLE)]:
        fill_grid.MAX_FINE_HOLE = budget
        split = grid_factors(spacing, model_voxel_mm(models), int(hole.sum()))
        started = time.perf_counter()
        filled = inpaint_volume(voided, known, models, intensity, method="network", spacing=spacing).filled
        seconds = time.perf_counter() - started
        scores = score_volumes(filled, truth, voided, hole)
        print(f"| {name} | {split} | {seconds:.1f} | {scores['ssim']:.4f} | {scores['psnr']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
