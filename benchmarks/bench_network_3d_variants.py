"""Benchmark: other ways to run the fill network in 3-D, on the BraTS-protocol tumour holes (in-process).

Why (issue 10): the network's 3-D fill (``inpaint_volume(method="network")``) fuses its three
orientations' fills by a depth-weighted mean of their VALUES and runs one symmetry view per slice of a thin hole, eight of a thick one.
This scores, from one set of the network's fills per case, two alternatives:

* ``in-plane gradients``: the search's fusion (docs/method.md, "3-D fill") applied to the
  network's fills: along each axis d, the guidance difference between neighbouring voxels is
  the mean of that difference in the fills of the two other orientations (whose slices contain
  d; no orientation's differences across its own, separately filled, slices), then one exact
  3-D Poisson solve (:func:`medinpaint.inpainting.poisson3d.gradient_blend_3d`) with the known
  voxels as the boundary (:func:`medinpaint.volume_inpainting.in_plane_blend`, the search's own);
* ``views v``: ``v`` symmetry views per slice (``network_fill_volume(views=v)``; shipped: by the hole's
  depth, ``hole_views``: ``THICK_HOLE_VIEWS`` for these tumour holes);

each with the shipped detail gain (0.75) applied after, like the CLI, and the shipped fill itself.

* data and holes: :func:`bench_brats_protocol.tumour_hole` (default ``--region train``, z = 30..85,
  below the held-out band: for choosing; ``heldout`` only for the record), the same seed and
  holes as ``bench_brats_protocol.py``;
* the network, its base and intensity map as the CLI uses them (the shipped checkpoint's
  ``volume_fill_network`` on the 3-D biharmonic fill; the checkpoint's intensity map of the voided
  volume); the shipped row equals ``bench_brats_protocol.py``'s ``medinpaint`` row;
* scores: BraTS-protocol SSIM / PSNR (``score_volumes``, the function behind ``medinpaint score``),
  the through-plane jump and Δz error (``bench_brats_protocol.through_plane_scores``), mean over the
  cases, with how many cases beat the shipped fill; seconds of the network part only.

Run (~25 s per case on 2 cores): ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_network_3d_variants.py``
Writes ``--out`` (default results/network_3d_variants/): metrics.csv, table.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bench_brats_protocol import comparison_table, through_plane_scores, tumour_hole, write_results
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.detail import DETAIL_GAIN, restore_detail
from medinpaint.inpainting.network_fill import network_fill_volume
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.metrics.scoring import score_volumes
from medinpaint.native_inpainting import fill_network_of
from medinpaint.volume_inpainting import in_plane_blend

SHIPPED = "shipped (depth-weighted values, views by depth)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--region", choices=("heldout", "train"), default="train")
    parser.add_argument("--views", default="2,4", help="comma-separated symmetry views per slice to score besides the shipped 1")
    parser.add_argument("--out", type=Path, default=Path("results/network_3d_variants"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    truth, _ = sample_volume()
    truth = truth.astype(np.float32)
    models = load_models(device="cpu")
    net = fill_network_of(models, volume=True)
    rng = np.random.default_rng(args.seed)
    rows = []
    for case in range(args.cases):
        hole = tumour_hole(truth, rng, args.region)
        voided = np.where(hole, 0, truth).astype(np.float32)
        known = (~hole).astype(np.float32)
        intensity = models.normalisation.intensity_for(torch.from_numpy(voided))
        base = biharmonic_fill_3d(voided, known).astype(np.float32)
        fills = {}
        for views in [None, *(int(v) for v in args.views.split(",") if v)]:
            started = time.perf_counter()
            fused, _, axis_fills = network_fill_volume(voided, known, base, net, intensity, views=views)
            fills[SHIPPED if views is None else f"views {views}"] = (fused, time.perf_counter() - started)
            if views is None:
                started = time.perf_counter()
                fills["in-plane gradients"] = (in_plane_blend(axis_fills, voided, known), fills[SHIPPED][1] + time.perf_counter() - started)
        for name, (fill, seconds) in fills.items():
            sharpened = restore_detail(fill, known, DETAIL_GAIN)
            rows.append({"case": case, "variant": name, **score_volumes(sharpened, truth, voided, hole), **through_plane_scores(sharpened, truth, hole), "seconds": seconds})
            print(f"case {case} {name:40s} SSIM {rows[-1]['ssim']:.4f} PSNR {rows[-1]['psnr']:.2f} jump {rows[-1]['jump']:.2f}", flush=True)
    header = ["variant (detail gain 0.75 after)", "SSIM", "PSNR (dB)", "SSIM up (cases)", "jump", "Δz error", "network s/case"]
    table = comparison_table(rows, "variant", SHIPPED, header, lambda mine, mean, up: [
        f"{mean('ssim'):.4f}", f"{mean('psnr'):.2f}", up("ssim"), f"{mean('jump'):.2f}", f"{mean('dz_error'):.2f}", f"{mean('seconds'):.1f}",
    ])  # fmt: skip
    write_results(args.out, rows, table)


if __name__ == "__main__":
    main()
