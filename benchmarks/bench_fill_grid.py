"""Benchmark: are coarse or thick-slice volumes better filled on a finer grid than on their own?

The 3-D fills take one voxel step as the same distance along every axis, and the brain models
learned 1 mm anatomy. This compares, on the template block-averaged to coarser voxels
(``--block``: 1,1,3 for 3 mm slices, 2,2,2 for 2 mm voxels; a stand-in for such a scan whose truth
is known), with tumour-sized holes (:func:`bench_brats_protocol.tumour_hole` on the 1 mm template,
default ``--region train``; a coarse voxel is in the hole when any of its 1 mm voxels is):

* ``biharmonic-3d``: scikit-image's 3-D biharmonic fill on the coarse grid;
* ``network on the volume's grid``: the 3-D fill with no voxel size
  (:func:`medinpaint.volume_inpainting.inpaint_volume`, ``method="network"``, ``spacing=None``:
  3-D biharmonic base, the volume fill network along the three axes, depth-weighted, detail gain
  0.75), as the CLI ran on every volume before 2026-12-04;
* ``network given the voxel size (CLI)``: the same call with ``spacing``, as the CLI runs it now
  (:mod:`medinpaint.inpainting.fill_grid`: thick axes split toward near-isotropic voxels around the
  hole, filled there, averaged back; isotropic voxels are left on their own grid);
* ``biharmonic-3d on the finer grid``: a diagnostic, not a method the CLI offers: the 3-D
  biharmonic fill through the same resampling, to tell what the finer grid gives a classical fill
  from what it gives the network.

``--volume T1.nii.gz`` does the same with a volume no model saw as the truth (holes sized in mm from
its voxels, anywhere in its tissue), e.g. nibabel's real 2 mm T1 with ``--block 1,3,1`` for 6 mm
coronal slices.

Scores: the BraTS protocol (:func:`medinpaint.metrics.scoring.score_volumes`) and the through-plane
jump (:func:`bench_brats_protocol.through_plane_scores`), mean over the cases, and in how many cases
each beats the fill on the volume's grid. Settings are chosen on ``--region train`` only.

Run: ``cd benchmarks && flock /tmp/medinpaint-cpu.lock python bench_fill_grid.py --block 1,1,3 --out ../results/fill_grid``
Writes ``--out``: metrics.csv, table.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from bench_brats_protocol import comparison_table, sigma_gain_pairs, through_plane_jump, through_plane_scores, tumour_hole, user_volume, write_results
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.detail import DETAIL_GAIN, restore_detail
from medinpaint.inpainting.fill_grid import block_mean, grid_factors, model_voxel_mm, on_finer_grid
from medinpaint.inpainting.network_fill import CONTEXT
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.metrics.scoring import score_volumes
from medinpaint.volume_inpainting import inpaint_volume

OWN_ROW = "network on the volume's grid"
CLI_ROW = "network given the voxel size (CLI)"
BIHARMONIC_FINE_ROW = "biharmonic-3d on the finer grid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--region", choices=("heldout", "train"), default="train")
    parser.add_argument("--block", default="2,2,2", help="voxels averaged per coarse voxel along X, Y, Z")
    parser.add_argument("--volume", type=Path, default=None,
                        help="a NIfTI volume no model saw instead of the template; holes anywhere in its tissue (no --region)")
    parser.add_argument("--detail-gain", type=float, default=DETAIL_GAIN, help="the network fills' detail gain (default: the CLI's)")
    parser.add_argument(
        "--detail-sweep", type=sigma_gain_pairs, default=(),
        help="comma-separated sigma:gain pairs: also score restore_detail(the network's fill on the volume's grid, gain, sigma) (run with --detail-gain 0)",
    )
    parser.add_argument("--out", type=Path, default=Path("results/fill_grid"))
    args = parser.parse_args()
    if args.detail_sweep and args.detail_gain != 0.0:
        parser.error("--detail-sweep sharpens the network's own fill: pass --detail-gain 0")
    torch.set_num_threads(2)
    fine_truth, affine = sample_volume() if args.volume is None else user_volume(args.volume)
    fine_truth = fine_truth.astype(np.float32)
    fine_mm = nib.affines.voxel_sizes(affine)
    region = "volume" if args.volume is not None else args.region
    block = tuple(int(b) for b in args.block.split(","))
    whole_blocks = tuple(slice(0, n - n % b) for n, b in zip(fine_truth.shape, block))  # odd trailing voxels dropped
    truth = block_mean(fine_truth[whole_blocks], block).astype(np.float32)
    models = load_models(device="cpu")
    coarse_mm = tuple(float(m * b) for m, b in zip(fine_mm, block))

    def fill_3d(voided: np.ndarray, known: np.ndarray, spacing) -> np.ndarray:
        """The CLI's 3-D fill (``inpaint_volume(method="network")`` with its defaults), given ``spacing`` or not."""
        intensity = models.normalisation.intensity_for(torch.from_numpy(voided))
        return inpaint_volume(voided, known, models, intensity, method="network", spacing=spacing, detail_gain=args.detail_gain).filled

    rng = np.random.default_rng(args.seed)
    rows = []
    for case in range(args.cases):
        hole = block_mean(tumour_hole(fine_truth, rng, region, spacing=fine_mm)[whole_blocks].astype(np.float32), block) > 0
        voided = np.where(hole, 0, truth).astype(np.float32)
        known = (~hole).astype(np.float32)
        started = time.perf_counter()
        biharmonic = biharmonic_fill_3d(voided, known).astype(np.float32)
        seconds = {"biharmonic-3d": time.perf_counter() - started}
        predictions = {"biharmonic-3d": biharmonic}
        for name, spacing in ((OWN_ROW, None), (CLI_ROW, coarse_mm)):
            started = time.perf_counter()
            predictions[name] = fill_3d(voided, known, spacing)
            seconds[name] = time.perf_counter() - started
        for sigma, gain in args.detail_sweep:
            name = f"{OWN_ROW}, detail sigma={sigma:g} gain={gain:g}"
            predictions[name], seconds[name] = restore_detail(predictions[OWN_ROW], known, gain, sigma), float("nan")
        started = time.perf_counter()
        factors = grid_factors(coarse_mm, model_voxel_mm(models), int(hole.sum()))  # the CLI's split for this hole
        fine = on_finer_grid(lambda v, k: {"filled": biharmonic_fill_3d(v, k)}, voided, known, biharmonic, factors, CONTEXT)
        predictions[BIHARMONIC_FINE_ROW] = np.where(hole, fine["filled"], voided).astype(np.float32)
        seconds[BIHARMONIC_FINE_ROW] = time.perf_counter() - started
        truth_jump = through_plane_jump(truth, hole)
        for name, prediction in predictions.items():
            rows.append({"case": case, "fill": name, "voxels": int(hole.sum()), **score_volumes(prediction, truth, voided, hole),
                         **through_plane_scores(prediction, truth, hole), "truth_jump": truth_jump, "seconds": seconds[name]})  # fmt: skip
            print(f"case {case} ({int(hole.sum())} voxels) {name:36s} SSIM {rows[-1]['ssim']:.4f} PSNR {rows[-1]['psnr']:.2f} jump {rows[-1]['jump']:.2f} (truth {truth_jump:.2f})", flush=True)
    header = [f"fill ({args.volume.name if args.volume else 'template'} averaged {args.block.replace(',', '×')})", "SSIM", "PSNR (dB)", "MAE", "SSIM up", "PSNR up", "jump", "truth jump", "s / case (median)"]
    table = comparison_table(rows, "fill", OWN_ROW, header, lambda mine, mean, up: [
        f"{mean('ssim'):.4f}", f"{mean('psnr'):.2f}", f"{mean('mae'):.4f}", up("ssim"), up("psnr"), f"{mean('jump'):.2f}",
        f"{mean('truth_jump'):.2f}", f"{np.median([r['seconds'] for r in mine]):.1f}",
    ])  # fmt: skip
    write_results(args.out, rows, table)


if __name__ == "__main__":
    main()
