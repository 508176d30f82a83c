"""Benchmark: is a 2 mm volume better filled on the model's 1 mm grid than on its own?

The brain models learned the 1 mm MNI152 template; a 2 mm volume shows them anatomy at half the
scale they know. This compares, on the template block-averaged to 2 mm voxels (a stand-in for a
2 mm scan whose truth is known), with tumour-sized holes (:func:`bench_brats_protocol.tumour_hole`
on the 1 mm template, default ``--region train``; a 2 mm voxel is in the hole when any of its 8
voxels is):

* ``biharmonic-3d``: scikit-image's 3-D biharmonic fill at 2 mm;
* ``network at 2 mm``: the CLI's 3-D fill as it runs on a 2 mm volume today
  (:func:`medinpaint.volume_inpainting.inpaint_volume` with ``method="network"`` and its defaults:
  3-D biharmonic base, the volume fill network along the three axes, depth-weighted, detail gain 0.75);
* ``network on 1 mm grid``: the 2 mm volume with its hole filled by 3-D biharmonic, upsampled 2× by
  cubic spline (``scipy.ndimage.zoom``), its hole (each 2 mm hole voxel's 8 children) filled by the
  same 3-D fill at 1 mm, then averaged back over each 2 mm voxel's 8 children; known voxels are the
  input's.

Scores: the BraTS protocol (:func:`medinpaint.metrics.scoring.score_volumes`) and the through-plane
jump (:func:`bench_brats_protocol.through_plane_scores`), mean over the cases, and in how many cases
each beats the CLI's fill. Settings are chosen on ``--region train`` only.

Run: ``cd benchmarks && flock /tmp/medinpaint-cpu.lock python bench_model_grid.py --out ../results/model_grid``
Writes ``--out``: metrics.csv, table.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from bench_brats_protocol import comparison_table, through_plane_jump, through_plane_scores, tumour_hole, write_results
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.shrinkage import biharmonic_fill_3d
from medinpaint.metrics.scoring import score_volumes
from medinpaint.volume_inpainting import inpaint_volume

CLI_ROW = "network at 2 mm (CLI)"


def to_2mm(volume: np.ndarray) -> np.ndarray:
    """The mean over each 2×2×2 block (odd trailing voxels dropped)."""
    x, y, z = (n // 2 for n in volume.shape)
    return volume[: 2 * x, : 2 * y, : 2 * z].reshape(x, 2, y, 2, z, 2).mean(axis=(1, 3, 5))


def children(region: np.ndarray) -> np.ndarray:
    """Each voxel repeated 2× along every axis (its 8 voxels on the 1 mm grid)."""
    for axis in range(3):
        region = np.repeat(region, 2, axis=axis)
    return region


def seconds_cell(seconds: list[float]) -> str:
    """The median seconds, or a dash for a fill that was not timed on its own (biharmonic: inside the CLI's fill)."""
    median = float(np.median(seconds))
    return f"{median:.1f}" if np.isfinite(median) else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--region", choices=("heldout", "train"), default="train")
    parser.add_argument("--out", type=Path, default=Path("results/model_grid"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    fine_truth = sample_volume()[0].astype(np.float32)
    truth = to_2mm(fine_truth).astype(np.float32)
    models = load_models(device="cpu")

    def fill_3d(voided: np.ndarray, known: np.ndarray) -> np.ndarray:
        """The CLI's 3-D fill (``inpaint_volume(method="network")`` with its defaults) at the arrays' own grid."""
        intensity = models.normalisation.intensity_for(torch.from_numpy(voided))
        return inpaint_volume(voided, known, models, intensity, method="network").filled

    rng = np.random.default_rng(args.seed)
    rows = []
    for case in range(args.cases):
        hole = to_2mm(tumour_hole(fine_truth, rng, args.region).astype(np.float32)) > 0
        voided = np.where(hole, 0, truth).astype(np.float32)
        known = (~hole).astype(np.float32)
        started = time.perf_counter()
        biharmonic = biharmonic_fill_3d(voided, known).astype(np.float32)
        native = fill_3d(voided, known)
        seconds = {"biharmonic-3d": float("nan"), CLI_ROW: time.perf_counter() - started}
        started = time.perf_counter()
        fine_hole = children(hole)
        upsampled = np.where(fine_hole, 0, ndimage.zoom(biharmonic, 2, order=3)).astype(np.float32)
        fine = fill_3d(upsampled, (~fine_hole).astype(np.float32))
        on_grid = np.where(hole, to_2mm(fine), voided).astype(np.float32)
        seconds["network on 1 mm grid"] = seconds[CLI_ROW] + time.perf_counter() - started
        truth_jump = through_plane_jump(truth, hole)
        for name, prediction in (("biharmonic-3d", biharmonic), (CLI_ROW, native), ("network on 1 mm grid", on_grid)):
            rows.append({"case": case, "fill": name, "voxels": int(hole.sum()), **score_volumes(prediction, truth, voided, hole),
                         **through_plane_scores(prediction, truth, hole), "truth_jump": truth_jump, "seconds": seconds[name]})  # fmt: skip
            print(f"case {case} ({int(hole.sum())} voxels) {name:22s} SSIM {rows[-1]['ssim']:.4f} PSNR {rows[-1]['psnr']:.2f} jump {rows[-1]['jump']:.2f} (truth {truth_jump:.2f})", flush=True)
    header = ["fill (2 mm template)", "SSIM", "PSNR (dB)", "MAE", "SSIM up", "PSNR up", "jump", "truth jump", "s / case (median)"]
    table = comparison_table(rows, "fill", CLI_ROW, header, lambda mine, mean, up: [
        f"{mean('ssim'):.4f}", f"{mean('psnr'):.2f}", f"{mean('mae'):.4f}", up("ssim"), up("psnr"), f"{mean('jump'):.2f}",
        f"{mean('truth_jump'):.2f}", seconds_cell([r["seconds"] for r in mine]),
    ])  # fmt: skip
    write_results(args.out, rows, table)


if __name__ == "__main__":
    main()
