"""Benchmark: lesion-sized holes at native resolution on the held-out slab, medinpaint vs biharmonic.

Protocol (also in docs/results.md, "Native resolution: lesion-sized holes"):

* data: the embedded MNI152 T1 (1 mm), axial slices z = 100, 106, ..., 130 of the held-out slab
  (z = 96..135; no training window of any orientation touches z = 91..140);
* holes: for each radius r (mm), 3 disks per slice, centres drawn with a fixed seed inside tissue
  (the whole disk, dilated by 2 voxels, lies in the brain: T1 > 10 % of the 99.5th percentile),
  disks at least 2 voxels apart; the same holes for every method;
* medinpaint: ``inpaint_file`` (the CLI's path and defaults unless flags say otherwise: the
  fill network of the shipped model; ``--method search`` for the DCGAN latent search) on the
  NIfTI volume with a NIfTI mask volume (nonzero = fill), one call per radius;
* biharmonic: ``skimage.restoration.inpaint_biharmonic`` on each 2-D slice, same holes (the
  baseline the differences are taken against); biharmonic-3d: the same in 3-D
  (``medinpaint.inpainting.biharmonic3d.biharmonic_fill_3d``), which also reads the known voxels of
  the slices above and below each hole, as medinpaint's 3-D fill does;
* scores over hole voxels, pooled over the slices of a radius, with ``medinpaint score
  --protocol hole`` (``medinpaint.metrics.scoring``): PSNR with data range = the volume's
  0.5..99.5 percentile span, MAE in native units, SSIM = the mean over hole voxels of the SSIM
  map (torchmetrics, 11×11 Gaussian) of each axial slice; and seconds per slice;
* how sure: medinpaint minus biharmonic in pooled hole PSNR and MAE, with a 95 % paired-bootstrap
  interval over the holes (``paired_intervals.py``); ``--region heldout-dense`` scores 13 slices
  (z = 97, 100, ..., 133) instead of 6 for a narrower interval;
* diagnosis (search method): the PSNR of medinpaint's raw G(ẑ) (before the blend) in the hole
  and on the known ring of 8 voxels around each hole, i.e. how closely the generator reproduces
  the context.

Run (heavy on 2 cores): ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_native_quality.py``
Writes ``--out`` (default results/native_quality/): metrics.csv, metrics.json, table.md, crops.png
and the lesion masks ``lesions_r<r>mm.nii.gz`` (nonzero = fill), so that ``medinpaint inpaint -i
<sample> -m lesions_r6mm.nii.gz -o out.nii.gz`` reproduces a run by hand.

Another volume (e.g. a real subject's T1, which no medinpaint model was trained on):
``--volume T1.nii.gz`` puts the same holes (radii in voxels) on its axial slices ``--slices`` (default: the 6
slices evenly spaced over the middle half of its tissue; a one-slice volume: that slice), with the
same tissue rule, scores and baselines. docs/results.md runs it on two real subjects: the 2 mm T1
volume in nibabel's test data (``nibabel/tests/data/anatomical.nii``) and the T1 slice that
dipy's wheel ships (``dipy/data/files/t1_coronal_slice.npy``).
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
from skimage.restoration import inpaint_biharmonic

from medinpaint.data.sample import sample_path
from medinpaint.figures import HoleCrops, save_hole_crops
from medinpaint.metrics.scoring import score_volumes
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.masks import lesion_disks, tissue_level
from medinpaint.windows import WindowConfig
from paired_intervals import paired_interval

SLICES = tuple(range(100, 131, 6))
# --region train: axial slices below the held-out band, which the prior was trained on; used only
# to CHOOSE settings (the prior weight), never to report quality. The -dense regions hold 13 and
# 19 slices instead of 6 (39 and 57 disks per radius instead of 18): their differences between
# methods come with narrower bootstrap intervals.
REGIONS = {
    "heldout": SLICES,
    "heldout-dense": tuple(range(97, 134, 3)),
    "train": tuple(range(50, 81, 6)),
    "train-dense": tuple(range(30, 86, 3)),
}
RADII = (3, 6, 12)
PER_SLICE = 3
RING = 8  # known voxels around a hole on which the raw fit of G(ẑ) is scored


def lesion_mask(volume: np.ndarray, radius: int, seed: int, slices: tuple[int, ...] = SLICES, per_slice: int = PER_SLICE) -> np.ndarray:
    """(X, Y, Z) bool, True = hole: ``per_slice`` disks of ``radius`` voxels on each axial slice of ``slices``."""
    rng = np.random.default_rng(seed + radius)
    brain = tissue_mask(volume)
    mask = np.zeros(volume.shape, bool)
    for z in slices:
        mask[:, :, z] = lesion_disks(brain[:, :, z], radius, per_slice, rng)
    return mask


def tissue_mask(volume: np.ndarray) -> np.ndarray:
    """Tissue: above :func:`~medinpaint.masks.tissue_level`."""
    return volume > tissue_level(volume)


def volume_slices(volume: np.ndarray, count: int = len(SLICES)) -> tuple[int, ...]:
    """``count`` axial slices evenly spaced over the middle half of ``volume``'s tissue (all its
    slices when it has no more than ``count``)."""
    if volume.shape[2] <= count:
        return tuple(range(volume.shape[2]))
    tissue = np.flatnonzero(tissue_mask(volume).any(axis=(0, 1)))
    first, last = tissue[0] + (tissue[-1] - tissue[0]) // 4, tissue[-1] - (tissue[-1] - tissue[0]) // 4
    return tuple(int(z) for z in np.unique(np.linspace(first, last, count).round()))


def hole_slices(mask: np.ndarray) -> np.ndarray:
    """The axial slices that hold a hole."""
    return np.flatnonzero(mask.any(axis=(0, 1)))


def biharmonic(volume: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """2-D biharmonic fill of every benchmark slice; returns (volume, seconds per slice)."""
    filled = volume.copy()
    started = time.perf_counter()
    slices = hole_slices(mask)
    for z in slices:
        filled[:, :, z] = inpaint_biharmonic(np.ascontiguousarray(volume[:, :, z]), np.ascontiguousarray(mask[:, :, z]))
    return filled, (time.perf_counter() - started) / len(slices)


def medinpaint_fill(volume_path: Path, mask: np.ndarray, affine: np.ndarray, args) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The CLI's path on a mask file; returns (filled, raw G(ẑ), uncertainty volumes, seconds per slice)."""
    with tempfile.TemporaryDirectory() as tmp:
        mask_path, out, spread = Path(tmp) / "mask.nii.gz", Path(tmp) / "out.nii.gz", Path(tmp) / "spread.nii.gz"
        raw = Path(tmp) / "raw.nii.gz"
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), str(mask_path))
        started = time.perf_counter()
        inpaint_file(
            volume_path,
            str(mask_path),
            out,
            checkpoint=args.checkpoint,
            search=SearchConfig(iterations=args.iterations, restarts=args.restarts, seed=args.seed, flip_restarts=args.flip_restarts),
            method=args.method,
            fill=args.fill,
            grid=args.grid,
            estimate=args.estimate,
            windowing=WindowConfig(min_side=args.min_side, max_share=args.max_share),
            blend_method=args.blend,
            prior_weight=args.prior_weight,
            detail_gain=args.detail_gain,
            mirror=args.mirror,
            uncertainty_output=spread,
            raw_output=raw,
            progress=False,
        )
        seconds = (time.perf_counter() - started) / len(hole_slices(mask))
        volumes = [np.asarray(nib.load(str(path)).dataobj, np.float32) for path in (out, raw, spread)]
        return (*volumes, seconds)


def raw_fit(truth: np.ndarray, raw: np.ndarray, mask: np.ndarray, span: float, ring: int = RING) -> dict[str, float]:
    """PSNR of the raw G(ẑ) in the hole and on the known ring of ``ring`` voxels around it (its fit to the context)."""
    around = np.zeros_like(mask)
    for z in hole_slices(mask):
        around[:, :, z] = ndimage.binary_dilation(mask[:, :, z], iterations=ring) & ~mask[:, :, z]
    return {
        f"raw_{name}_psnr": float(10 * np.log10(span**2 / np.mean((raw[where].astype(np.float64) - truth[where]) ** 2)))
        for name, where in (("hole", mask), ("ring", around))
    }


def scores(truth: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Hole PSNR, MAE, SSIM: ``medinpaint score --protocol hole``, SSIM maps in the axial planes."""
    axial = [np.moveaxis(v, 2, 0) for v in (filled, truth, mask)]
    values = score_volumes(axial[0], axial[1], None, axial[2], protocol="hole")
    return {"psnr": values["psnr"], "mae": values["mae"], "ssim": values["ssim"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/native_quality"))
    parser.add_argument("--radii", type=int, nargs="+", default=list(RADII))
    parser.add_argument("--checkpoint", default=None, help="default: the shipped brain_mri model")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--method", default="auto", help="network, search, or auto (the CLI's: network for the shipped brain model)")
    parser.add_argument("--fill", default="auto", help="auto, 3d or slices, as medinpaint inpaint --fill")
    parser.add_argument("--grid", default="auto")
    parser.add_argument("--estimate", default="mean")
    parser.add_argument("--blend", default="poisson")
    parser.add_argument("--min-side", type=int, default=WindowConfig.min_side)
    parser.add_argument("--max-share", type=float, default=WindowConfig.max_share)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flip-restarts", action=argparse.BooleanOptionalAction, default=None, help="default: the CLI's (on for windows)")
    parser.add_argument("--label", default="medinpaint", help="method name in the table")
    parser.add_argument("--prior-weight", type=float, default=None, help="default: the CLI's (0.4 on windows)")
    parser.add_argument("--detail-gain", type=float, default=None, help="default: the CLI's (0.75; 3-D network fills only)")
    parser.add_argument(
        "--mirror", action=argparse.BooleanOptionalAction, default=True,
        help="the CLI's mirror guide (default on); --no-mirror on the template, which is symmetric: its mirror image is the truth",
    )  # fmt: skip
    parser.add_argument("--region", choices=sorted(REGIONS), default="heldout", help="train: for choosing settings only")
    parser.add_argument("--volume", type=Path, default=None, help="a NIfTI volume to score on instead of the embedded template")
    parser.add_argument("--per-slice", type=int, default=PER_SLICE, help="disks per slice")
    parser.add_argument("--slices", type=int, nargs="+", default=None, help="axial slices of --volume (default: volume_slices)")
    parser.add_argument(
        "--sweep", default=None,
        help="comma-separated prior weights: also score w·fill + (1−w)·biharmonic for each (run with --prior-weight 1); "
        "exactly what --prior-weight w gives, from one search; writes sweep.csv",
    )  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.sweep and args.prior_weight != 1.0:
        parser.error("--sweep mixes the unshrunk fill: pass --prior-weight 1")
    sweep = []

    volume_path = args.volume or sample_path()
    image = nib.load(str(volume_path))
    truth = np.asarray(image.dataobj, np.float32)
    slices = tuple(args.slices or volume_slices(truth)) if args.volume else REGIONS[args.region]
    low, high = np.percentile(truth, [0.5, 99.5])
    span = float(high - low)
    rows, crops = [], []
    for radius in args.radii:
        mask = lesion_mask(truth, radius, args.seed, slices, args.per_slice)
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), image.affine), str(args.out / f"lesions_r{radius}mm.nii.gz"))
        ours, raw, spread, ours_seconds = medinpaint_fill(volume_path, mask, image.affine, args)
        assert np.array_equal(ours[~mask], truth[~mask]), "known voxels changed"
        classic, classic_seconds = biharmonic(truth, mask)
        started = time.perf_counter()
        classic_3d = biharmonic_fill_3d(truth, (~mask).astype(np.float32)).astype(np.float32)
        classic_3d_seconds = (time.perf_counter() - started) / len(hole_slices(mask))
        fit = paired_interval(ours, classic, truth, mask, span)
        if not np.array_equal(raw, ours):  # the search's G(ẑ) before the blend; the network's raw fill is its output
            fit |= raw_fit(truth, raw, mask, span)
        methods = ((args.label, ours, ours_seconds), ("biharmonic", classic, classic_seconds), ("biharmonic-3d", classic_3d, classic_3d_seconds))
        for method, filled, seconds in methods:
            extra = fit if method == args.label else {key: float("nan") for key in fit}
            rows.append({"radius_mm": radius, "method": method, **scores(truth, filled, mask), "seconds_per_slice": seconds, **extra})
            print(json.dumps(rows[-1]))
        for weight in [float(w) for w in args.sweep.split(",")] if args.sweep else []:
            mixed = np.where(mask, weight * ours + (1 - weight) * classic, truth)
            sweep.append({"radius_mm": radius, "prior_weight": weight, **scores(truth, mixed, mask)})
            print(json.dumps(sweep[-1]))
        slices = hole_slices(mask)
        z = int(slices[len(slices) // 2])
        x, y = ndimage.center_of_mass(ndimage.label(mask[:, :, z])[0] == 1)
        half = max(3 * radius, 16)
        box = (slice(max(int(x) - half, 0), int(x) + half), slice(max(int(y) - half, 0), int(y) + half), z)
        crops.append(HoleCrops(f"r = {radius} {'voxels' if args.volume else 'mm'}, z = {z}", truth[box].T[::-1], mask[box].T[::-1], {"medinpaint": ours[box].T[::-1], "biharmonic": classic[box].T[::-1], "biharmonic 3-D": classic_3d[box].T[::-1]}, spread[box].T[::-1]))
    write_results(args.out, rows, args)
    if sweep:
        (args.out / "sweep.csv").write_text("\n".join(["radius_mm,prior_weight,psnr,mae,ssim"] + [",".join(str(r[k]) for k in ("radius_mm", "prior_weight", "psnr", "mae", "ssim")) for r in sweep]) + "\n")
    save_hole_crops(args.out / "crops.png", crops, (float(low), float(high)), title=f"{args.volume.name}, native voxels" if args.volume else "Held-out slab of the MNI152 T1, native 1 mm voxels")


def write_results(out: Path, rows: list[dict], args) -> None:
    """metrics.csv, metrics.json (with the run's settings) and table.md."""
    header = list(rows[0])
    (out / "metrics.csv").write_text("\n".join([",".join(header)] + [",".join(str(r[k]) for k in header) for r in rows]) + "\n")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    (out / "metrics.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2))
    lines = [
        "| r (mm) | method | hole PSNR (dB) | hole MAE | hole SSIM | s / slice | raw G(ẑ) PSNR hole / known ring "
        "| PSNR − biharmonic [95 % CI] | MAE − biharmonic [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['radius_mm']} | {r['method']} | {r['psnr']:.2f} | {r['mae']:.2f} | {r['ssim']:.3f} | {r['seconds_per_slice']:.2f} "
        f"| {_raw_fit(r)} | {_interval(r, 'psnr')} | {_interval(r, 'mae')} |"
        for r in rows
    ]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _raw_fit(row: dict) -> str:
    """``hole / ring`` PSNR of the raw G(ẑ) (search method); ``–`` where there is none (the network, the baseline)."""
    if np.isnan(row.get("raw_hole_psnr", float("nan"))):
        return "–"
    return f"{row['raw_hole_psnr']:.2f} / {row['raw_ring_psnr']:.2f}"


def _interval(row: dict, metric: str) -> str:
    """``+0.12 [−0.30, +0.51]`` from a row's paired-bootstrap columns; ``–`` for the baseline's row."""
    if np.isnan(row[f"{metric}_difference"]):
        return "–"
    return f"{row[f'{metric}_difference']:+.2f} [{row[f'{metric}_low']:+.2f}, {row[f'{metric}_high']:+.2f}] ({row['holes']} holes)"


if __name__ == "__main__":
    main()
