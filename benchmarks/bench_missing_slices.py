"""Benchmark: whole missing slices of a volume, filled by medinpaint and by slice interpolation.

A corrupted or missing slice (motion, a dropped frame, a slice removed for an artefact) leaves a
gap of one or a few whole slices. Protocol:

* data: the embedded MNI152 T1 (1 mm); or ``--volume`` (e.g. the real 2 mm T1 in nibabel's test
  data, which no medinpaint model saw);
* gaps: ``--widths`` consecutive whole slices along each axis (sagittal, coronal, axial), at
  ``--positions`` places per axis: on the template, axial gaps inside the held-out slab (z = 96..135)
  and sagittal / coronal gaps through the middle of the brain; elsewhere evenly spaced over the
  middle half of the tissue along that axis;
* scored voxels: the gap's voxels of the head (tissue above :func:`~medinpaint.masks.tissue_level`,
  grown by 3 voxels), on the template only those inside the held-out slab (no training window of
  any orientation touched z = 91..140), so a sagittal or coronal gap is scored on its held-out part;
* medinpaint: :func:`~medinpaint.file_inpainting.inpaint_file`, the CLI's path and defaults (a mask
  file of the gap, ``--fill auto``: the fill network's 3-D fill), models loaded once;
* baselines, on the same gaps: biharmonic 3-D (scikit-image's equations,
  :func:`~medinpaint.inpainting.biharmonic3d.biharmonic_fill_3d`), linear interpolation between
  the two slices beside the gap, and a cubic spline through two known slices on each side;
* scores: ``medinpaint score --protocol hole`` (:func:`~medinpaint.metrics.scoring.score_volumes`:
  PSNR over the volume's 0.5–99.5 percentile span, MAE in native units, SSIM maps in the planes of
  the gap) per case, and pooled over the cases of an axis and width; in how many cases medinpaint's
  PSNR beats each baseline's.

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_missing_slices.py --out results/missing_slices``
Writes ``--out``: metrics.csv (per case), table.md (pooled), crops.png (one gap per axis).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage
from scipy.interpolate import CubicSpline

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import heldout_slab, sample_path
from medinpaint.figures import HoleCrops, save_hole_crops
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.masks import tissue_level
from medinpaint.metrics.scoring import score_volumes

AXES = {0: "sagittal", 1: "coronal", 2: "axial"}
HEAD_MARGIN = 3  # voxels around the tissue that count as head
METHODS = ("medinpaint", "biharmonic-3d", "linear", "cubic")


def gap_mask(shape: tuple[int, ...], axis: int, start: int, width: int) -> np.ndarray:
    """(X, Y, Z) bool, True on the ``width`` whole slices from ``start`` along ``axis``."""
    gap = np.zeros(shape, bool)
    np.moveaxis(gap, axis, 0)[start : start + width] = True
    return gap


def interpolated(volume: np.ndarray, axis: int, start: int, width: int, kind: str) -> np.ndarray:
    """The gap filled along ``axis``: ``linear`` between the slices beside it, or a ``cubic`` spline
    through two known slices on each side (one where the volume ends)."""
    along = np.moveaxis(volume.astype(np.float64), axis, 0)
    before = [i for i in (start - 2, start - 1) if i >= 0][-1 if kind == "linear" else 0 :]
    after = [i for i in (start + width, start + width + 1) if i < along.shape[0]][: 1 if kind == "linear" else 2]
    known = before + after
    if kind == "linear" or len(known) < 3:
        fill = np.stack([np.interp(i, known, [0, 1]) for i in range(start, start + width)])  # weights of the slice after
        values = (1 - fill[:, None, None]) * along[known[0]] + fill[:, None, None] * along[known[-1]]
    else:
        values = CubicSpline(known, along[known], axis=0)(np.arange(start, start + width))
    filled = along.copy()
    filled[start : start + width] = values
    return np.moveaxis(filled, 0, axis).astype(np.float32)


def positions(volume: np.ndarray, axis: int, count: int, width: int, region: tuple[int, int] | None) -> list[int]:
    """``count`` gap starts along ``axis``: evenly spaced in ``region`` (start, stop), else over the middle half of the tissue."""
    if region is None:
        tissue = np.flatnonzero((volume > tissue_level(volume)).any(axis=tuple(a for a in range(3) if a != axis)))
        region = (tissue[0] + (tissue[-1] - tissue[0]) // 4, tissue[-1] - (tissue[-1] - tissue[0]) // 4)
    first, last = region[0] + 2, region[1] - width - 2
    return sorted({int(p) for p in np.linspace(first, last, count).round()})


def scores(truth: np.ndarray, filled: np.ndarray, scored: np.ndarray, axis: int) -> dict[str, float]:
    """``medinpaint score --protocol hole`` over ``scored``, SSIM maps in the planes of the gap."""
    planes = [np.moveaxis(v, axis, 0) for v in (filled, truth, scored)]
    return score_volumes(planes[0], planes[1], None, planes[2], protocol="hole")


def pooled(rows: list[dict], truth_span: float) -> list[dict]:
    """Per axis, width and method: PSNR and MAE pooled over the cases' voxels, SSIM voxel-weighted, wins in PSNR."""
    table = []
    keys = sorted({(r["axis"], r["width"]) for r in rows}, key=lambda k: (list(AXES.values()).index(k[0]), k[1]))
    for axis, width in keys:
        ours = {r["case"]: r for r in rows if r["axis"] == axis and r["width"] == width and r["method"] == "medinpaint"}
        for method in METHODS:
            cases = [r for r in rows if r["axis"] == axis and r["width"] == width and r["method"] == method]
            voxels = np.array([r["voxels"] for r in cases], float)
            mse = float(np.average([r["mse"] for r in cases], weights=voxels))
            table.append({
                "axis": axis, "width": width, "method": method, "cases": len(cases),
                "psnr": 10 * np.log10(truth_span**2 / mse), "mae": float(np.average([r["mae"] for r in cases], weights=voxels)),
                "ssim": float(np.average([r["ssim"] for r in cases], weights=voxels)),
                "medinpaint_wins": sum(ours[r["case"]]["psnr"] > r["psnr"] for r in cases) if method != "medinpaint" else None,
                "seconds": float(np.median([r["seconds"] for r in cases])),
            })  # fmt: skip
    return table


def crop_around(evaluated: np.ndarray, axis: int, start: int, width: int, side: int = 64) -> tuple[slice, ...]:
    """A plane across the gap (the next axis fixed), ``side`` voxels around the gap's middle, centred on the scored voxels."""
    across = (axis + 1) % 3
    centre = [int(c) for c in ndimage.center_of_mass(evaluated)]
    centre[axis] = start + width // 2
    box = [slice(max(c - side // 2, 0), c + side // 2) for c in centre]
    box[across] = centre[across]
    return tuple(box)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/missing_slices"))
    parser.add_argument("--volume", type=Path, default=None, help="a NIfTI volume instead of the embedded template")
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 2, 3], help="consecutive missing slices")
    parser.add_argument("--positions", type=int, default=3, help="gaps per axis and width")
    parser.add_argument("--axes", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--mirror", action=argparse.BooleanOptionalAction, default=True,
        help="the CLI's mirror guide (default on); --no-mirror on the template, which is symmetric: its mirror image is the truth",
    )  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    volume_path = args.volume or sample_path()
    image = nib.load(str(volume_path))
    truth = np.asarray(image.dataobj, np.float32)
    head = ndimage.binary_dilation(truth > tissue_level(truth), iterations=HEAD_MARGIN)
    slab = heldout_slab()
    evaluated = head.copy()
    if args.volume is None:
        evaluated[:, :, : slab.start] = evaluated[:, :, slab.stop :] = False
    low, high = np.percentile(truth, [0.5, 99.5])
    models = load_models()
    rows, crops = [], []
    for axis in args.axes:
        region = (slab.start, slab.stop) if args.volume is None and axis == slab.axis else None
        for width in args.widths:
            for case, start in enumerate(positions(truth, axis, args.positions, width, region)):
                gap = gap_mask(truth.shape, axis, start, width)
                scored = gap & evaluated
                fills, seconds = {}, {}
                with tempfile.TemporaryDirectory() as tmp:
                    mask_path, out = Path(tmp) / "gap.nii.gz", Path(tmp) / "out.nii.gz"
                    nib.save(nib.Nifti1Image(gap.astype(np.uint8), image.affine), str(mask_path))
                    started = time.perf_counter()
                    inpaint_file(volume_path, str(mask_path), out, models=models, mirror=args.mirror, progress=False)
                    seconds["medinpaint"] = time.perf_counter() - started
                    fills["medinpaint"] = np.asarray(nib.load(str(out)).dataobj, np.float32)
                assert np.array_equal(fills["medinpaint"][~gap], truth[~gap]), "known voxels changed"
                started = time.perf_counter()
                fills["biharmonic-3d"] = biharmonic_fill_3d(truth, (~gap).astype(np.float32)).astype(np.float32)
                seconds["biharmonic-3d"] = time.perf_counter() - started
                for kind in ("linear", "cubic"):
                    started = time.perf_counter()
                    fills[kind] = interpolated(truth, axis, start, width, kind)
                    seconds[kind] = time.perf_counter() - started
                for method in METHODS:
                    rows.append({
                        "axis": AXES[axis], "width": width, "case": f"{AXES[axis]}{width}-{case}", "start": start, "method": method,
                        "voxels": int(scored.sum()), **scores(truth, fills[method], scored, axis), "seconds": seconds[method],
                    })  # fmt: skip
                    print(json.dumps(rows[-1]), flush=True)
                if width == args.widths[-1] and case == 0:
                    box = crop_around(evaluated, axis, start, width)
                    crops.append(HoleCrops(f"{AXES[axis]} gap of {width} at {start}", truth[box].T[::-1], gap[box].T[::-1], {m: fills[m][box].T[::-1] for m in METHODS}))
    write_results(args.out, rows, pooled(rows, float(high - low)))
    title = f"{args.volume.name}: whole missing slices" if args.volume else "MNI152 T1: whole missing slices (held-out slab)"
    save_hole_crops(args.out / "crops.png", crops, (float(low), float(high)), title=title)


def write_results(out: Path, rows: list[dict], table: list[dict]) -> None:
    """metrics.csv (per case and method) and table.md (pooled)."""
    header = list(rows[0])
    (out / "metrics.csv").write_text("\n".join([",".join(header)] + [",".join(str(r[k]) for k in header) for r in rows]) + "\n")
    lines = ["| gap | method | cases | hole PSNR (dB) | hole MAE | hole SSIM | medinpaint's PSNR higher | s / case (median) |", "|---|---|---|---|---|---|---|---|"]
    for r in table:
        wins = "" if r["medinpaint_wins"] is None else f"{r['medinpaint_wins']} of {r['cases']}"
        lines.append(
            f"| {r['axis']}, {r['width']} slice(s) | {r['method']} | {r['cases']} | {r['psnr']:.2f} | {r['mae']:.2f} | {r['ssim']:.4f} "
            f"| {wins} | {r['seconds']:.2f} |"
        )
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
