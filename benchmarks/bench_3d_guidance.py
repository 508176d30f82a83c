"""Diagnostic: does the 3-D fill's generator guidance add anything to biharmonic 3-D, however mixed?

Why (issue 10): on the BraTS-protocol benchmark every prior weight above 0 scored below biharmonic
3-D. This asks whether another way of mixing the two would do better, and measures the reason:

* data and holes: :func:`bench_brats_protocol.tumour_hole` (default ``--region train``: holes in
  axial z = 30..85, training anatomy, for choosing; ``heldout`` only for the record);
* the generator's 3-D fill G: ``medinpaint inpaint --prior-weight 1`` (the CLI, other options at
  their defaults); B: biharmonic 3-D on the crop around the hole (the benchmark's);
* mixtures, all in the hole only: ``const w`` = w·G + (1 − w)·B (``--prior-weight w``, up to the biharmonic crop's margin);
  ``ramp D w`` = the weight rising from 0 on the hole's boundary to w at D voxels inside it (the
  generator trusted deeper in the hole, where B knows least); ``smooth s w`` = B + w·gauss_s(G − B)
  (only the generator's coarse departure from B, its noise smoothed away);
* seconds: the CLI's wall time per case (start-up and model loading included);
* scores: BraTS-protocol SSIM / PSNR (``medinpaint.metrics.scoring.score_volumes``, the function
  behind ``medinpaint score``) of each mixture, mean over the cases, with how many cases beat B;
  and per case the correlation, over hole voxels, of the generator's departure from B (G − B) with
  the truth's (T − B): above 0, G points from B toward the truth; 0, it adds only noise.

Run (heavy on 2 cores, ~1.5 min per case): ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_3d_guidance.py``
Writes ``--out`` (default results/3d_guidance/): metrics.csv, metrics.json, table.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from bench_brats_protocol import biharmonic_3d, run_method, tumour_hole
from medinpaint.data.sample import sample_volume
from medinpaint.metrics.scoring import score_volumes


def mixtures(generator: np.ndarray, biharmonic: np.ndarray, hole: np.ndarray) -> dict[str, np.ndarray]:
    """Every mixture of the generator's and the biharmonic fill scored, by name (values in the hole matter)."""
    depth = ndimage.distance_transform_edt(hole)
    difference = generator - biharmonic
    mixed = {f"const {w}": biharmonic + w * difference for w in (0.0, 0.2, 0.4, 1.0)}
    for reach in (3, 6):
        for w in (0.3, 0.6):
            mixed[f"ramp {reach} {w}"] = biharmonic + w * np.clip(depth / reach, 0, 1) * difference
    for sigma in (1.0, 2.0):
        smooth = ndimage.gaussian_filter(difference, sigma)
        for w in (0.4, 1.0):
            mixed[f"smooth {sigma} {w}"] = biharmonic + w * smooth
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--region", choices=("heldout", "train"), default="train")
    parser.add_argument("--checkpoint", default=None, help="pass --checkpoint to medinpaint (default: the CLI's)")
    parser.add_argument("--out", type=Path, default=Path("results/3d_guidance"))
    args = parser.parse_args()
    extra = ["--prior-weight=1"] + ([f"--checkpoint={args.checkpoint}"] if args.checkpoint else [])
    truth, affine = sample_volume()
    truth = truth.astype(np.float32)
    rng = np.random.default_rng(args.seed)
    scores, correlations, times = {}, [], []
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            hole = tumour_hole(truth, rng, args.region)
            voided = np.where(hole, 0, truth).astype(np.float32)
            folder = Path(tmp) / f"case{case}"  # run_method names its output after the method
            folder.mkdir()
            files = {role: folder / f"{role}.nii.gz" for role in ("voided", "mask")}
            for role, array in (("voided", voided), ("mask", hole.astype(np.uint8))):
                nib.save(nib.Nifti1Image(array, affine), str(files[role]))
            prediction, seconds = run_method("medinpaint", files, voided, hole, affine, extra)
            generator = np.asarray(nib.load(str(prediction)).dataobj, np.float64)
            biharmonic = biharmonic_3d(voided, hole).astype(np.float64)
            correlation = float(np.corrcoef((generator - biharmonic)[hole], (truth - biharmonic)[hole])[0, 1])
            correlations.append(correlation)
            print(f"case {case}: {int(hole.sum())} voxels, corr(G - B, T - B) = {correlation:+.3f}, medinpaint {seconds:.1f} s", flush=True)
            times.append(seconds)
            for name, fill in mixtures(generator, biharmonic, hole).items():
                scores.setdefault(name, []).append(score_volumes(np.where(hole, fill, voided), truth, voided, hole))
    rows = []
    biharmonic_ssim = np.array([s["ssim"] for s in scores["const 0.0"]])
    for name, per_case in scores.items():
        ssim = np.array([s["ssim"] for s in per_case])
        psnr = np.array([s["psnr"] for s in per_case])
        rows.append({"mixture": name, "ssim": ssim.mean(), "psnr": psnr.mean(), "cases_above_biharmonic_ssim": int((ssim > biharmonic_ssim).sum())})
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    record = {"arguments": vars(args) | {"out": str(args.out)}, "rows": rows, "correlations": correlations, "seconds": times}
    (args.out / "metrics.json").write_text(json.dumps(record, indent=2))
    lines = ["| mixture | SSIM | PSNR | cases above biharmonic 3-D (SSIM) |", "|---|---|---|---|"]
    lines += [f"| {r['mixture']} | {r['ssim']:.4f} | {r['psnr']:.2f} | {r['cases_above_biharmonic_ssim']}/{args.cases} |" for r in rows]
    lines.append(f"\ncorr(G - B, T - B) per case: {', '.join(f'{c:+.3f}' for c in correlations)}")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
