"""Benchmark: the fill network's settings on lesion disks, 2-D or 3-D context and symmetry views.

Chooses the defaults of ``--method network`` on TRAINING slices (``--region train-dense``, the
default here: axial z = 30, 33, ..., 84, 57 disks per radius), never on the held-out slab; the
held-out figures come from ``bench_native_quality.py``. Same holes, scores and baselines as that
benchmark (``lesion_mask``, ``scores``: ``medinpaint score --protocol hole``), through the
library paths that ``inpaint_file`` uses:

* ``network 2-D, N views``: :func:`medinpaint.inpainting.network_fill.network_fill` on each whole
  axial slice (base: the slice's 2-D biharmonic fill), the mean over the first N symmetry views;
* ``network 3-D, N views``: :func:`medinpaint.inpainting.network_fill.network_fill_volume`, the
  path of ``inpaint_volume(method="network")`` (the checkpoint's ``volume_fill_network`` when it
  has one; base: the 3-D biharmonic fill, the three axes weighted by the hole's depth), the mean
  over the first N symmetry views;
* ``biharmonic`` (2-D, per slice) and ``biharmonic-3d`` (``biharmonic_fill_3d``).

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_fill_network.py`` (a few minutes
on 2 cores). Prints one JSON row per (radius, method) and writes ``--out``/metrics.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from bench_native_quality import REGIONS, biharmonic, hole_slices, lesion_mask, scores
from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.network_fill import network_fill, network_fill_volume
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.native_inpainting import fill_network_of


def network_2d(volume: np.ndarray, mask: np.ndarray, models, intensity, views: int) -> np.ndarray:
    """The network on every axial slice that holds a hole, whole slices, ``views`` symmetry views."""
    filled = volume.copy()
    slices = hole_slices(mask)
    native = torch.from_numpy(np.ascontiguousarray(np.moveaxis(volume[:, :, slices], 2, 0)))[:, None]
    known = torch.from_numpy(np.ascontiguousarray(np.moveaxis(~mask[:, :, slices], 2, 0))).float()[:, None]
    fill = network_fill(native, known, models.fill_network, intensity, views=views).fill
    filled[:, :, slices] = np.moveaxis(fill[:, 0].numpy(), 0, 2)
    return filled


def network_3d(volume: np.ndarray, mask: np.ndarray, models, intensity, views: int) -> np.ndarray:
    """The network on every slice through the holes along all three axes, on the 3-D biharmonic fill."""
    known = (~mask).astype(np.float32)
    base = biharmonic_fill_3d(volume, known).astype(np.float32)
    return network_fill_volume(volume, known, base, fill_network_of(models, volume=True), intensity, views=views)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", choices=sorted(REGIONS), default="train-dense")
    parser.add_argument("--radii", type=int, nargs="+", default=[3, 6, 12])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped brain_mri model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/fill_network"))
    parser.add_argument("--views-3d", type=int, nargs="+", default=[1, 2, 8], help="symmetry views of the 3-D rows")
    parser.add_argument("--only-3d", action="store_true", help="the 3-D rows and biharmonic 3-D only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models = load_models(args.checkpoint, device="cpu")
    volume, _ = sample_volume()
    intensity = models.normalisation.intensity_for(torch.from_numpy(volume))
    methods = {
        "network 2-D, 1 view": lambda mask: network_2d(volume, mask, models, intensity, 1),
        "network 2-D, 8 views": lambda mask: network_2d(volume, mask, models, intensity, 8),
        **{f"network 3-D, {n} views": (lambda mask, n=n: network_3d(volume, mask, models, intensity, n)) for n in args.views_3d},
        "biharmonic": lambda mask: biharmonic(volume, mask)[0],
        "biharmonic-3d": lambda mask: biharmonic_fill_3d(volume, (~mask).astype(np.float32)),
    }
    if args.only_3d:
        methods = {name: fill for name, fill in methods.items() if "3-D" in name or name == "biharmonic-3d"}
    rows = []
    for radius in args.radii:
        mask = lesion_mask(volume, radius, args.seed, REGIONS[args.region])
        for name, fill in methods.items():
            started = time.perf_counter()
            filled = np.asarray(fill(mask), np.float32)
            seconds = time.perf_counter() - started
            assert np.array_equal(filled[~mask], volume[~mask]), f"{name} changed known voxels"
            rows.append({"region": args.region, "radius_mm": radius, "method": name, **scores(volume, filled, mask), "seconds": seconds})
            print(json.dumps(rows[-1]), flush=True)
    with open(args.out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
