"""Benchmark: does tuning the volume fill network on the input's own known tissue help its 3-D fill?

The network learned one averaged brain. Test-time adaptation tunes a copy of it, for each volume,
on that volume's own anatomy: windows cut exactly as its training windows were
(:func:`medinpaint.training.fill.volume_hole_windows`: slices through tumour-sized and lesion
holes of 64³ cubes, MONAI augmentation, the cube's 3-D biharmonic fill as the base), but from
cubes of the voided input centred within ``--radius`` voxels of the hole and holding none of its
voxels. The copy trains ``--steps`` steps (batch 32, AdamW, the training loss), then fills the
hole as the CLI's 3-D fill does (:func:`medinpaint.volume_inpainting.inpaint_volume` with
``method="network"``). Settings are fixed before any run; nothing here is chosen on the scores.

Cases: the tumour-sized holes of :mod:`bench_brats_protocol` (same seed, same holes), in-process,
scored with the BraTS protocol against the shipped network on the same holes.

``--volume V --holes-in M``: a real volume no model saw instead of the template, its holes those of
``bench_brats_protocol.py --volume V --holes-in M`` (same seed). Its windows are cut from the voided input
as the fill reads it (its tissue classes mapped onto the model's, :func:`checkpoint_intensity`), anywhere
in it, and each fill is the MONAI transform's (:class:`SemanticInpaint`, which fills as the CLI does), the
network alone (``mirror=False``) and, with ``--guides``, with the mirror and template guides too; biharmonic
3-D on the same holes for reference.

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_adaptation.py --cases 8 --out results/adaptation``
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from bench_brats_protocol import DIAMETERS, biharmonic_3d, fill_table, tumour_hole, user_volume, write_results
from monai.data import MetaTensor

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import HeldoutSlab, heldout_slab, sample_volume
from medinpaint.masks import tissue_level
from medinpaint.metrics.scoring import score_volumes
from medinpaint.native_inpainting import fill_network_of
from medinpaint.tissue_contrast import TissueIntensityToUnit
from medinpaint.training.fill import hole_loss
from medinpaint.training.fill_volumes import volume_hole_windows
from medinpaint.transforms import SemanticInpaint
from medinpaint.transforms.inpaint import checkpoint_intensity
from medinpaint.volume_inpainting import inpaint_volume

SHIPPED, ADAPTED = "shipped network", "adapted to the volume"
SIDE = 64


def local_centres(voided: np.ndarray, hole: np.ndarray, radius: int, rng: np.random.Generator, count: int = 400) -> np.ndarray:
    """Up to ``count`` tissue voxels within ``radius`` of the hole's centre whose 64³ cube lies in the volume and misses the hole."""
    half = SIDE // 2
    centre = np.argwhere(hole).mean(axis=0).round().astype(int)
    level = tissue_level(voided)
    found = []
    for _ in range(50 * count):
        candidate = centre + rng.integers(-radius, radius + 1, size=3)
        box = tuple(slice(c - half, c - half + SIDE) for c in candidate)
        if any(b.start < 0 or b.stop > n for b, n in zip(box, voided.shape)) or voided[tuple(candidate)] <= level:
            continue
        if not hole[box].any():
            found.append(candidate)
        if len(found) == count:
            break
    return np.array(found)


NO_SLAB = HeldoutSlab(0, 0, 0)  # a real volume: no band is held out of its windows


def adapt(models, voided, hole, intensity, rng, args, slab: HeldoutSlab | None = None) -> object:
    """A copy of ``models`` whose volume fill network was tuned on windows of ``voided`` around the hole.

    ``slab``: the band no window touches (None = the template's held-out slab). ``intensity`` maps ``voided`` to
    [-1, 1]: a linear map's ends are passed on; any other map (tissue classes) is applied first."""
    centres = local_centres(voided, hole, args.radius, rng)
    linear = not isinstance(intensity, TissueIntensityToUnit)
    values = voided if linear else intensity(torch.from_numpy(voided)).numpy().astype(np.float32)
    level = tissue_level(voided)
    level = level if linear else float(intensity(torch.tensor([level]))[0])
    data = volume_hole_windows(
        values, heldout_slab() if slab is None else slab, (intensity.low, intensity.high) if linear else (-1.0, 1.0),
        count=args.windows, side=SIDE, kinds=(0.0, 0.5, 0.5), tissue_level=level, centres=centres, seed=int(rng.integers(2**31)),
    )  # fmt: skip
    network = copy.deepcopy(fill_network_of(models, volume=True)).train().requires_grad_(True)
    optimiser = torch.optim.AdamW(network.parameters(), lr=args.lr, weight_decay=1e-4)
    stacked = torch.cat([data["image"], data["hole"], data["base"]], dim=1)
    for _ in range(args.steps):
        batch = stacked[torch.from_numpy(rng.integers(0, len(stacked), 32))]
        batch = torch.rot90(batch, int(rng.integers(4)), (2, 3))
        image, hole_planes, base = batch[:, :1], batch[:, 1:2], batch[:, 2:3]
        loss = hole_loss(network(image, 1.0 - hole_planes, base, True), image, hole_planes, 0.1)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return dataclasses.replace(models, volume_fill_network=network.eval())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--windows", type=int, default=320, help="training windows cut from the volume")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--radius", type=int, default=64, help="cube centres at most this many voxels from the hole's centre")
    parser.add_argument("--volume", type=Path, default=None, help="a real NIfTI volume no model saw, instead of the template")
    parser.add_argument("--holes-in", type=Path, default=None, help="with --volume: holes only where this NIfTI mask is nonzero")
    parser.add_argument("--guides", action="store_true", help="with --volume: also fill with the mirror and template guides")
    parser.add_argument("--out", type=Path, default=Path("results/adaptation"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.volume is not None:
        return real_volume(args)
    truth = sample_volume()[0].astype(np.float32)
    models = load_models(device="cpu")
    rng, tuning_rng = np.random.default_rng(args.seed), np.random.default_rng([args.seed, 1])
    rows = []
    for case in range(args.cases):
        hole = tumour_hole(truth, rng, "heldout")
        voided, known = np.where(hole, 0, truth).astype(np.float32), (~hole).astype(np.float32)
        intensity = models.normalisation.intensity_for(torch.from_numpy(voided))
        for name in (SHIPPED, ADAPTED):
            started = time.perf_counter()
            chosen = models if name == SHIPPED else adapt(models, voided, hole, intensity, tuning_rng, args)
            filled = inpaint_volume(voided, known, chosen, intensity, method="network").filled
            rows.append({"case": case, "fill": name, "voxels": int(hole.sum()), **score_volumes(filled, truth, voided, hole),
                         "seconds": time.perf_counter() - started})  # fmt: skip
            print(f"case {case} {name:22s} SSIM {rows[-1]['ssim']:.4f} PSNR {rows[-1]['psnr']:.2f} {rows[-1]['seconds']:.1f} s", flush=True)
    write_results(args.out, rows, fill_table(rows, SHIPPED, "fill (held-out template)"))


def real_volume(args: argparse.Namespace) -> None:
    """The cases of a real volume (module docstring): the transform's fills with the shipped and the adapted network."""
    truth, affine = user_volume(args.volume)
    within = None if args.holes_in is None else np.asarray(user_volume(args.holes_in)[0]) != 0
    spacing = nib.affines.voxel_sizes(affine)
    fills = {"network alone": SemanticInpaint(mirror=False, find_brain=False, device="cpu")}
    if args.guides:
        fills["default (guides)"] = SemanticInpaint(device="cpu")
    models = fills["network alone"].models
    rng, tuning_rng = np.random.default_rng(args.seed), np.random.default_rng([args.seed, 1])
    rows = []
    for case in range(args.cases):
        hole = tumour_hole(truth, rng, "volume", spacing, DIAMETERS, within)
        voided = np.where(hole, 0, truth).astype(np.float32)
        image, lesion = MetaTensor(torch.from_numpy(voided)[None], affine=torch.from_numpy(affine)), torch.from_numpy(hole)[None]
        started = time.perf_counter()
        adapted = adapt(models, voided, hole, checkpoint_intensity(models, voided, ~hole, network=True), tuning_rng, args, NO_SLAB)
        tuning = time.perf_counter() - started
        results = {"biharmonic 3-D": (biharmonic_3d(voided, hole), 0.0)}
        for name, transform in fills.items():
            for label, chosen in ((name, models), (f"{name}, adapted", adapted)):
                transform.models = chosen
                started = time.perf_counter()
                filled = transform(image, lesion)[0].numpy()
                results[label] = (filled, time.perf_counter() - started + (tuning if chosen is adapted else 0.0))
            transform.models = models
        for label, (filled, seconds) in results.items():
            rows.append({"case": case, "fill": label, "voxels": int(hole.sum()), **score_volumes(filled, truth, voided, hole), "seconds": seconds})
            print(f"case {case} {label:32s} SSIM {rows[-1]['ssim']:.4f} PSNR {rows[-1]['psnr']:.2f} {seconds:.1f} s", flush=True)
    write_results(args.out, rows, fill_table(rows, "network alone", f"fill ({args.volume.name})"))


if __name__ == "__main__":
    main()
