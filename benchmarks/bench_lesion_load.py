"""A lesion load: tens of small 3-D lesions filled at once through the CLI, timed and scored.

What lesion filling (multiple sclerosis, small vessel disease) asks of a volume: many small holes
in one image, not one tumour. ``--lesions N`` ellipsoids, each semi-axis drawn uniformly from
``--semi-axes`` mm (default 1.5–5 mm: lesions 3–10 mm across), randomly turned, each centred on a
tissue voxel (above :func:`medinpaint.masks.tissue_level`, the brain eroded by
``TISSUE_EROSION`` voxels); or, ``--dropout RATE``, each of those tissue voxels missing with
probability RATE (random voxel dropout at native resolution: thousands of one-voxel holes, which
join into larger ones as the rate grows): on the embedded template inside its held-out slab (``MARGIN`` voxels
from its ends, the lesions cut to it), which no model trained on, or anywhere in ``--volume``'s
tissue (a volume no model saw). Lesions that touch are one hole. The subject can first be deformed,
turned, biased, made noisy or resized as in ``bench_brats_protocol.py`` (``--asymmetry``,
``--pose``, ``--bias``, ``--noise``, ``--head-size``; a subject in its own space, simulated).

Files as a user has them (NIfTI): the input with the lesions set to 0, the mask (nonzero = fill)
and the truth. Methods, on the same files:

* ``medinpaint``: ``medinpaint inpaint`` with the CLI's defaults (a subprocess, timed with its
  start-up and model loading); ``medinpaint-no-mirror``: the same with ``--no-mirror`` (the
  template is symmetric, so on it the mirror guide reads the truth: this row is the fill's figure
  there);
* ``biharmonic-3d``: scikit-image's ``inpaint_biharmonic`` on each hole's crop (+ ``CROP_MARGIN``
  voxels, the other lesions in it unknown too), as ``bench_brats_protocol.py`` fills one hole.

Scores over all lesion voxels together: ``medinpaint score --protocol hole`` (native units: PSNR
over the 0.5–99.5 percentile span, MAE, SSIM) and ``--protocol brats`` (subprocesses); per hole,
its MAE, and in how many holes each method's MAE is below biharmonic 3-D's.

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_lesion_load.py [--lesions 40] [--volume T1.nii.gz]``
Writes ``--out`` (default results/lesion_load/): metrics.json, metrics.csv, table.md, crops.png
(axial crops around the four largest holes: input, each fill, truth).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from bench_brats_protocol import (
    CROP_MARGIN, TISSUE_EROSION, add_subject_options, case_files, comma_floats, run_cli, subject_affine, subject_truth, user_volume,
    write_results,
)  # fmt: skip
from scipy import ndimage
from scipy.spatial.transform import Rotation
from skimage.restoration import inpaint_biharmonic

from medinpaint.data.sample import heldout_slab, sample_volume
from medinpaint.figures import HoleCrops, save_hole_crops
from medinpaint.inpainting.poisson3d import grow_box
from medinpaint.masks import tissue_level

METHODS = ("medinpaint", "medinpaint-no-mirror", "biharmonic-3d")
CLI_OPTIONS = {"medinpaint": [], "medinpaint-no-mirror": ["--no-mirror"]}
MARGIN = 6  # voxels at each end of the held-out slab that no lesion reaches
CROPS = 4  # holes shown in crops.png
CROP_HALF = 20  # voxels on each side of a hole's centre in crops.png


def lesion_load(tissue: np.ndarray, count: int, semi_axes_mm: tuple[float, float], spacing, rng: np.random.Generator) -> np.ndarray:
    """(X, Y, Z) bool: ``count`` randomly turned ellipsoids, semi-axes uniform in ``semi_axes_mm``,
    each centred on a voxel of ``tissue`` far enough from the volume's faces to hold it whole.

    >>> lesions = lesion_load(np.ones((30, 30, 30), bool), 3, (1.5, 3.0), (1.0, 1.0, 1.0), np.random.default_rng(0))
    >>> lesions.shape, 0 < int(lesions.sum()) < 3 * 4 / 3 * np.pi * 27
    ((30, 30, 30), True)
    """
    spacing = np.asarray(spacing, float)
    half = np.ceil(semi_axes_mm[1] / spacing).astype(int)
    inside = np.zeros(tissue.shape, bool)
    inside[tuple(slice(h, n - h) for h, n in zip(half, tissue.shape))] = True
    centres = np.argwhere(tissue & inside)
    offsets = np.stack(np.mgrid[tuple(slice(-h, h + 1) for h in half)], axis=-1) * spacing  # mm
    lesions = np.zeros(tissue.shape, bool)
    for _ in range(count):
        centre = centres[rng.integers(len(centres))]
        radii = rng.uniform(*semi_axes_mm, size=3)
        turned = offsets @ Rotation.random(random_state=rng).as_matrix()
        lesions[tuple(slice(c - h, c + h + 1) for c, h in zip(centre, half))] |= ((turned / radii) ** 2).sum(axis=-1) <= 1
    return lesions


def voxel_dropout(tissue: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """(X, Y, Z) bool: each voxel of ``tissue`` missing with probability ``rate``.

    >>> dropped = voxel_dropout(np.ones((20, 20, 20), bool), 0.3, np.random.default_rng(0))
    >>> round(float(dropped.mean()), 2)
    0.3
    """
    return tissue & (rng.random(tissue.shape) < rate)


def allowed_tissue(volume: np.ndarray, on_template: bool) -> np.ndarray:
    """Where lesions may lie: the brain eroded by ``TISSUE_EROSION`` voxels; on the template only
    inside its held-out slab, ``MARGIN`` voxels from its ends."""
    brain = ndimage.binary_fill_holes(volume > tissue_level(volume))
    allowed = ndimage.binary_erosion(brain, iterations=TISSUE_EROSION)
    if on_template:
        slab = heldout_slab()
        allowed[:, :, : slab.start + MARGIN] = allowed[:, :, slab.stop - MARGIN :] = False
    return allowed


def biharmonic_per_hole(voided: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic fill of each connected hole in its crop (+ ``CROP_MARGIN`` voxels),
    every hole voxel of the crop unknown; each hole keeps its own crop's fill."""
    labels, _ = ndimage.label(hole)
    filled = voided.copy()
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        box = grow_box(found, CROP_MARGIN, hole.shape)
        own = labels[box] == label
        filled[box][own] = inpaint_biharmonic(np.ascontiguousarray(voided[box]), np.ascontiguousarray(hole[box]))[own]
    return filled


def hole_errors(prediction: np.ndarray, truth: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Each connected hole's mean absolute error (native units)."""
    return np.asarray(ndimage.mean(np.abs(prediction.astype(np.float64) - truth), labels, index=np.arange(1, count + 1)))


def crops_figure(path: Path, volumes: dict[str, np.ndarray], truth: np.ndarray, hole: np.ndarray, labels: np.ndarray) -> None:
    """Axial crops through the centres of the :data:`CROPS` largest holes: input, each fill, truth."""
    sizes = np.bincount(labels.ravel())[1:]
    rows = []
    for label in np.argsort(sizes)[::-1][:CROPS] + 1:
        x, y, z = np.round(ndimage.center_of_mass(labels == label)).astype(int)
        box = tuple(slice(max(c - CROP_HALF, 0), c + CROP_HALF + 1) for c in (x, y))
        rows.append(HoleCrops(f"hole {label} ({sizes[label - 1]} voxels), z {z}", truth[box + (z,)], hole[box + (z,)], {m: v[box + (z,)] for m, v in volumes.items()}))
    save_hole_crops(path, rows, (0.0, float(np.percentile(truth, 99.5))), title=f"{len(sizes)} holes: input | {' | '.join(volumes)} | truth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lesions", type=int, default=40)
    parser.add_argument("--dropout", type=float, default=None, help="instead of lesions: each tissue voxel missing with this probability (0 < RATE < 1)")
    parser.add_argument("--semi-axes", type=comma_floats, default=(1.5, 5.0), help="smallest,largest semi-axis (mm) of a lesion (default: 1.5,5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--volume", type=Path, default=None, help="a NIfTI T1 volume no model saw, instead of the template: lesions anywhere in its tissue")
    add_subject_options(parser)
    parser.add_argument("--out", type=Path, default=Path("results/lesion_load"))
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    if set(methods) - set(METHODS) or len(args.semi_axes) != 2 or not 0 < args.semi_axes[0] <= args.semi_axes[1]:
        parser.error(f"--methods from {', '.join(METHODS)}; --semi-axes smallest,largest in mm (e.g. 1.5,5)")
    if args.dropout is not None and not 0 < args.dropout < 1:
        parser.error(f"--dropout {args.dropout:g}: give a rate between 0 and 1 (e.g. 0.1)")
    if args.void_reflection:
        parser.error("--void-reflection voids beside one tumour-sized hole (bench_brats_protocol.py): drop it here")
    truth, affine = sample_volume() if args.volume is None else user_volume(args.volume)
    truth = subject_truth(parser, args, truth.astype(np.float32), affine)
    allowed = allowed_tissue(truth, args.volume is None)
    rng = np.random.default_rng(args.seed)
    if args.dropout is None:
        hole = lesion_load(allowed, args.lesions, args.semi_axes, nib.affines.voxel_sizes(affine), rng) & allowed
        drawn = f"{args.lesions} lesions drawn"
    else:
        hole, drawn = voxel_dropout(allowed, args.dropout, rng), f"{args.dropout:.0%} of the tissue voxels dropped"
    affine = subject_affine(parser, args, affine, truth.shape)
    labels, count = ndimage.label(hole)
    voided = np.where(hole, 0, truth).astype(np.float32)
    print(f"{drawn}: {count} holes, {int(hole.sum())} voxels", flush=True)
    rows, volumes, errors = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        files = case_files(Path(tmp) / "case", voided, hole, truth, affine)
        for method in methods:
            prediction = files["voided"].with_name(f"{method}.nii.gz")
            started = time.perf_counter()
            if method in CLI_OPTIONS:
                run_cli(["inpaint", "-i", str(files["voided"]), "-m", str(files["mask"]), "-o", str(prediction), *CLI_OPTIONS[method]])
            else:
                nib.save(nib.Nifti1Image(biharmonic_per_hole(voided, hole), affine), str(prediction))
            seconds = time.perf_counter() - started
            volumes[method] = np.asarray(nib.load(str(prediction)).dataobj, np.float32)
            errors[method] = hole_errors(volumes[method], truth, labels, count)
            row = {"method": method, "holes": count, "voxels": int(hole.sum()), "seconds": seconds}
            for protocol in ("hole", "brats"):
                scores = json.loads(run_cli([
                    "score", "--protocol", protocol, "--json", "--prediction", str(prediction), "--truth", str(files["truth"]),
                    "--voided", str(files["voided"]), "--mask", str(files["mask"]),
                ]))  # fmt: skip
                row.update({f"{protocol}_{key}": value for key, value in scores.items()})
            rows.append(row)
            print(f"{method}: {seconds:.1f} s, hole PSNR {row['hole_psnr']:.2f} dB, MAE {row['hole_mae']:.2f}", flush=True)
    for row in rows:
        row["holes_below_biharmonic"] = int((errors[row["method"]] < errors["biharmonic-3d"]).sum()) if "biharmonic-3d" in errors else None

    def below(row: dict) -> str:
        return "" if row["method"] == "biharmonic-3d" or row["holes_below_biharmonic"] is None else f"{row['holes_below_biharmonic']} of {count}"

    header = "| method | s | hole PSNR (dB) | hole MAE | hole SSIM | BraTS SSIM | BraTS PSNR (dB) | holes with MAE below biharmonic 3-D |\n|---|---|---|---|---|---|---|---|"
    lines = [
        f"| {r['method']} | {r['seconds']:.1f} | {r['hole_psnr']:.2f} | {r['hole_mae']:.2f} | {r['hole_ssim']:.4f} | {r['brats_ssim']:.4f} | "
        f"{r['brats_psnr']:.2f} | {below(r)} |"
        for r in rows
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps({"arguments": vars(args), "rows": rows}, indent=2, default=str))
    write_results(args.out, rows, f"{count} holes ({drawn}), {int(hole.sum())} voxels\n\n" + "\n".join([header, *lines]))
    crops_figure(args.out / "crops.png", {m: volumes[m] for m in methods}, truth, hole, labels)


if __name__ == "__main__":
    main()
