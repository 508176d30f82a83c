"""Diagnostic: which part of the network's correction helps a 3-D fill, on the template and on a real T1.

The CLI's 3-D fill is the 3-D biharmonic fill (the base) plus the fill network's correction.
On tumour-sized holes (the cases of ``bench_brats_protocol.py``: same holes for the same
``--volume``, ``--region``, ``--noise``, ``--seed`` and ``--cases``) this runs ``medinpaint
inpaint`` as a user would (CLI defaults but ``--no-mirror``: the network's own fill, before the
mirror guide of 2026-12-05; ``--uncertainty`` for the spread over the orientations and views), solves the same base in-process, and scores with the BraTS protocol
(``medinpaint.metrics.scoring``, the ``score`` command's function) the base plus parts of the
correction ``c`` inside the hole:

* ``mean only``: c's mean over the hole (the level the network moves the hole to);
* ``without its mean``: c minus that mean (the structure alone);
* ``smooth σ`` / ``detail σ``: c smoothed by a Gaussian of σ voxels inside the hole, and c minus it;
* ``shrunk by its spread``: c × r² / (r² + 1), r = rms(c) / rms(spread) over the hole (a
  Wiener-like weight from how much the orientations and views disagree);
* ``rim a–b mm``: c in full up to a mm from the nearest known voxel, tapering linearly to 0 at b mm
  (the correction where the context informs it, the base deeper in);

and per case r and the least-squares weight of c against the truth (``w_best``).

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_correction_parts.py --volume PATH --cases 8``
Writes ``--out``: metrics.json (per case), table.md (means and cases up against the base).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from bench_brats_protocol import DIAMETERS, rician_noise, run_cli, tumour_hole, user_volume
from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.metrics.scoring import score_volumes

SIGMAS = (2.0, 4.0)
RIMS_MM = ((2.0, 4.0), (4.0, 8.0))


def smooth_in_hole(values: np.ndarray, hole: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of ``values`` over the hole's voxels only (normalised convolution); 0 outside."""
    weight = ndimage.gaussian_filter(hole.astype(np.float64), sigma)
    smoothed = ndimage.gaussian_filter(np.where(hole, values, 0.0), sigma)
    return np.where(hole, smoothed / np.maximum(weight, 1e-9), 0.0)


def correction_parts(
    base: np.ndarray, correction: np.ndarray, spread: np.ndarray, hole: np.ndarray, voxel_mm=(1.0, 1.0, 1.0)
) -> tuple[dict[str, np.ndarray], float]:
    """The base plus each part of the correction (module docstring), and r."""
    level = float(correction[hole].mean())
    ratio = float(np.sqrt((correction[hole] ** 2).mean() / max((spread[hole] ** 2).mean(), 1e-12)))
    parts = {"biharmonic 3-D (base)": np.zeros_like(correction), "CLI default (base + c)": correction, "mean only": level * hole, "without its mean": correction - level * hole}
    for sigma in SIGMAS:
        smooth = smooth_in_hole(correction, hole, sigma)
        parts[f"smooth {sigma:g}"], parts[f"detail {sigma:g}"] = smooth, correction - smooth
    parts["shrunk by its spread"] = correction * ratio**2 / (ratio**2 + 1.0)
    depth = ndimage.distance_transform_edt(hole, sampling=voxel_mm)  # mm to the nearest known voxel
    for full, none in RIMS_MM:
        parts[f"rim {full:g}–{none:g} mm"] = correction * np.clip((none - depth) / (none - full), 0.0, 1.0)
    return {name: base + part for name, part in parts.items()}, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volume", type=Path, default=None, help="a NIfTI volume no model saw (holes anywhere in its tissue)")
    parser.add_argument("--region", choices=("heldout", "train"), default="heldout")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.0, help="Rician noise, share of the 99.5th percentile (as bench_brats_protocol.py)")
    parser.add_argument("--out", type=Path, default=Path("results/correction_parts"))
    args = parser.parse_args()
    truth, affine = sample_volume() if args.volume is None else user_volume(args.volume)
    if args.noise:
        truth = rician_noise(truth, args.noise, np.random.default_rng(args.seed + 1))
    region = "volume" if args.volume is not None else args.region
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            hole = tumour_hole(truth, rng, region, nib.affines.voxel_sizes(affine), DIAMETERS)
            voided = np.where(hole, 0, truth).astype(np.float32)
            paths = {name: Path(tmp) / f"case{case}_{name}.nii.gz" for name in ("voided", "mask", "filled", "spread")}
            nib.save(nib.Nifti1Image(voided, affine), str(paths["voided"]))
            nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), str(paths["mask"]))
            run_cli(["inpaint", "-i", str(paths["voided"]), "-m", str(paths["mask"]), "-o", str(paths["filled"]), "--uncertainty", str(paths["spread"]), "--no-mirror"])
            filled, spread = (np.asarray(nib.load(str(paths[name])).dataobj, np.float64) for name in ("filled", "spread"))
            base = biharmonic_fill_3d(voided, (~hole).astype(np.float32)).astype(np.float64)
            correction = np.where(hole, filled - base, 0.0)
            fills, ratio = correction_parts(base, correction, spread, hole, nib.affines.voxel_sizes(affine))
            error = (truth - base)[hole]
            best = float((correction[hole] * error).sum() / max((correction[hole] ** 2).sum(), 1e-12))
            scores = {
                name: score_volumes(np.where(hole, fill, voided).astype(np.float32), truth, voided, hole)
                for name, fill in fills.items()
            }
            rows.append({"case": case, "voxels": int(hole.sum()), "r": ratio, "w_best": best, "scores": scores})
            default, plain = scores["CLI default (base + c)"], scores["biharmonic 3-D (base)"]
            print(f"case {case}: r {ratio:.2f}, w_best {best:+.2f}, default − base {default['ssim'] - plain['ssim']:+.4f} SSIM, {default['psnr'] - plain['psnr']:+.3f} dB", flush=True)
    names = list(rows[0]["scores"])
    base_name = names[0]
    lines = [f"{args.cases} cases; r (mean, range) {np.mean([r['r'] for r in rows]):.2f} ({min(r['r'] for r in rows):.2f}–{max(r['r'] for r in rows):.2f})", "",
             "| fill | SSIM | PSNR (dB) | − base SSIM | − base PSNR | cases up (SSIM, PSNR) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name in names:
        ssim = np.array([r["scores"][name]["ssim"] - r["scores"][base_name]["ssim"] for r in rows])
        psnr = np.array([r["scores"][name]["psnr"] - r["scores"][base_name]["psnr"] for r in rows])
        means = [np.mean([r["scores"][name][key] for r in rows]) for key in ("ssim", "psnr")]
        lines.append(f"| {name} | {means[0]:.4f} | {means[1]:.2f} | {ssim.mean():+.4f} | {psnr.mean():+.3f} | {int((ssim > 0).sum())}, {int((psnr > 0).sum())} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps({"arguments": vars(args), "rows": rows}, indent=1, default=str))
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
