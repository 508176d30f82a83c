"""Benchmark: does refining the generator after the latent search fill lesion holes better?

The diagnosis of issue 9 was that G(ẑ) reproduces the known voxels around a hole poorly. Two
refinements of the searched fill make G fit that context more closely, both minimising the same
importance-weighted L1 term as the search (``‖W ⊙ (G − y)‖₁``, W from the 7×7 windows):

* ``features``: intermediate-layer optimisation (Daras et al., 2021): the first block's output
  (256×4×4 per window, after its ReLU) of every restart's ẑ becomes the variable, Adam, kept
  ≥ 0 in place; the fill is the mean over restarts, as the CLI's;
* ``weights``: an image-adaptive generator (Hussein et al., 2020): a copy of G per window, all
  its weights and the best restart's ẑ tuned jointly, Adam, z clipped in place; with
  ``--weight-fit known`` to every known pixel of the window (uniform weights) instead.

Each row also gives the raw fill's PSNR in the hole and on the known ring of 8 voxels around it
(as ``bench_native_quality.py``): how closely the refined G reproduces the context.

Everything else is the CLI's window path (windows at each hole's scale, ≤ 500 iterations, 4
restarts, exact Poisson blend, then the prior weight: w × fill + (1 − w) × biharmonic), on the
lesion disks of ``bench_native_quality.py``, scored over hole voxels (PSNR over the volume's
0.5–99.5 percentile span, MAE in native units), with the paired-bootstrap interval of each fill
minus biharmonic. Choose on ``--region train-dense`` (the default: 19 training slices, 57 disks
per radius); held-out regions are for reporting.

Run (heavy on 2 cores): ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_refinement.py``
Writes ``--out`` (default results/refinement/): metrics.json and table.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from skimage.restoration import inpaint_biharmonic

from bench_native_quality import RADII, REGIONS, lesion_mask, raw_fit
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_path
from medinpaint.inpainting import SearchConfig, blend, latent_search
from medinpaint.inpainting.losses import context_loss
from medinpaint.inpainting.shrinkage import shrink_to_biharmonic
from medinpaint.inpainting.weights import importance_weights
from medinpaint.io.nifti import extract_slices
from medinpaint.windows import WindowConfig, crop_windows, hole_windows, paste_windows
from paired_intervals import paired_interval

BLOCK = 3  # layers per generator block: ConvTranspose2d, BatchNorm2d, ReLU


def refine_features(generator, z: torch.Tensor, images, weights, steps: int, lr: float) -> torch.Tensor:
    """Optimise the first block's output of every row of ``z``; returns the fills (rows, C, H, W)."""
    head, tail = generator.net[:BLOCK], generator.net[BLOCK:]
    with torch.no_grad():
        features = head(z.view(len(z), -1, 1, 1))
    features.requires_grad_(True)
    optimizer = torch.optim.Adam([features], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fill = tail(features)
        context_loss(fill, images, weights).sum().backward()
        optimizer.step()
        with torch.no_grad():
            features.clamp_(min=0)
    with torch.no_grad():
        return tail(features).float()


def refine_weights(generator, z: torch.Tensor, images, weights, steps: int, lr: float) -> torch.Tensor:
    """Tune a copy of G and its z per row (one window at a time); returns the fills."""
    fills = []
    for row in range(len(z)):
        adapted = copy.deepcopy(generator).requires_grad_(True)
        latent = z[row : row + 1].clone().requires_grad_(True)
        optimizer = torch.optim.Adam([*adapted.parameters(), latent], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                fill = adapted(latent)
            context_loss(fill, images[row : row + 1], weights[row : row + 1]).sum().backward()
            optimizer.step()
            with torch.no_grad():
                latent.clamp_(-1.0, 1.0)
        with torch.no_grad():
            fills.append(adapted(latent).float())
    return torch.cat(fills)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/refinement"))
    parser.add_argument("--region", choices=sorted(REGIONS), default="train-dense")
    parser.add_argument("--radii", type=int, nargs="+", default=list(RADII))
    parser.add_argument("--prior-weights", type=float, nargs="+", default=[0.2, 0.4, 1.0])
    parser.add_argument("--feature-steps", type=int, default=100)
    parser.add_argument("--feature-lr", type=float, default=0.03)
    parser.add_argument("--weight-steps", type=int, default=50)
    parser.add_argument("--weight-lr", type=float, default=1e-4)
    parser.add_argument("--weight-fit", choices=("context", "known"), default="context", help="known: fit every known pixel of the window")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)

    volume = np.asarray(nib.load(str(sample_path())).dataobj, np.float32)
    low, high = np.percentile(volume, [0.5, 99.5])
    models = load_models(device="cpu")
    intensity = models.normalisation.intensity_for(volume)
    generator = models.generator.float().eval()
    rows = []
    for radius in args.radii:
        mask = lesion_mask(volume, radius, 0, REGIONS[args.region])
        slices = np.flatnonzero(mask.any(axis=(0, 1)))
        native = torch.from_numpy(extract_slices(volume, 2, slices)[0].copy())
        known = torch.from_numpy(extract_slices((~mask).astype(np.float32), 2, slices)[0].copy())
        hole = known < 0.5
        classic = torch.from_numpy(np.stack([inpaint_biharmonic(n[0].numpy(), h[0].numpy()) for n, h in zip(native, hole)]).astype(np.float32))[:, None]
        windows = hole_windows(known, WindowConfig())
        images, grid_known = crop_windows(torch.stack([intensity(s) for s in native]), known, windows)
        started = time.perf_counter()
        found = latent_search(images, grid_known, models.generator, models.discriminator, SearchConfig(iterations=500, restarts=4))
        search_seconds = time.perf_counter() - started
        weights = importance_weights(grid_known, 7)
        restarts = found.restart_z.shape[0]
        variants = {"search": lambda: found.estimate("mean")}
        if args.feature_steps:
            variants["features"] = lambda: refine_features(
                generator, found.restart_z.flatten(0, 1), images.repeat(restarts, 1, 1, 1), weights.repeat(restarts, 1, 1, 1), args.feature_steps, args.feature_lr
            ).view(restarts, *images.shape).mean(0)
        if args.weight_steps:
            fitted = weights if args.weight_fit == "context" else (grid_known > 0.999).float()
            variants["weights"] = lambda: refine_weights(generator, found.z, images, fitted, args.weight_steps, args.weight_lr)
        for variant, refine in variants.items():
            started = time.perf_counter()
            fill = refine()
            seconds = time.perf_counter() - started if variant != "search" else search_seconds
            raw = paste_windows(torch.stack([intensity.inverse(g) for g in fill]), windows, native)
            blended = blend(raw, native, known, method="poisson")
            # (N, 1, H, W) -> (H, W, N): the benchmarks' helpers take the holes of each axial slice
            fit = raw_fit(*[np.moveaxis(t[:, 0].numpy(), 0, -1) for t in (native, raw, hole)], float(high - low))
            for weight in args.prior_weights:
                filled = shrink_to_biharmonic(blended, native, known, weight)
                as_volume = [np.moveaxis(t[:, 0].numpy(), 0, -1) for t in (filled, classic, native, hole)]
                rows.append({"radius_mm": radius, "variant": variant, "prior_weight": weight, "seconds": seconds, **fit, **paired_interval(*as_volume[:3], as_volume[3], float(high - low))})
                print(json.dumps(rows[-1]), flush=True)
    (args.out / "metrics.json").write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    lines = [
        "| r (mm) | fill | prior weight | PSNR | MAE | PSNR − biharmonic [95 % CI] | MAE − biharmonic [95 % CI] | s (all windows) | raw PSNR hole / ring |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['radius_mm']} | {r['variant']} | {r['prior_weight']:g} | {r['psnr_first']:.2f} | {r['mae_first']:.2f} | {r['psnr_difference']:+.2f} [{r['psnr_low']:+.2f}, {r['psnr_high']:+.2f}] "
        f"| {r['mae_difference']:+.2f} [{r['mae_low']:+.2f}, {r['mae_high']:+.2f}] | {r['seconds']:.0f} "
        f"| {r['raw_hole_psnr']:.2f} / {r['raw_ring_psnr']:.2f} |"
        for r in rows
    ]
    first_of_radius = {r["radius_mm"]: r for r in reversed(rows)}.values()
    lines += [f"| {r['radius_mm']} | biharmonic | – | {r['psnr_second']:.2f} | {r['mae_second']:.2f} | – | – | – | – |" for r in first_of_radius]
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
