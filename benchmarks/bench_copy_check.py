"""The copy check of 2-D network fills: hole MAE with and without it, against biharmonic filling, on brain slices and other anatomy.

Each image is filled in-process by :func:`medinpaint.native_inpainting.inpaint_native` with the fill network
(the CLI's 2-D fill before its mirror guide), with ``copy_check`` on and off, and by scikit-image's
``inpaint_biharmonic``; hole MAE in the image's own units. Images:

* brain: three held-out axial slices of the embedded template (z = 100, 115, 130: inside the slab no
  training window touched), three axial slices of nibabel's real 2 mm T1 crop (z = 8, 12, 16) and,
  with ``--dipy``, dipy's real T1 slice (docs/results.md, "A real subject's T1 slice"); the generated
  masks of ``--masks`` (scaled as the CLI scales an image with a generated mask) and lesion disks of
  3, 6 and 12 mm, 4 per slice where they fit, two seeds (scaled as a mask file: the tissue classes);
* other anatomy: the first frame of every distinct image of ``bench_other_anatomy.candidates`` of at
  most ``--max-side`` pixels a side, with ``box:16`` and ``dropout:0.5`` (at most ``--max-hole`` hole pixels).

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_copy_check.py --dipy /tmp/realdata/dipy/data/files/t1_coronal_slice.npy``
Writes ``--out`` (default results/copy_check/): metrics.csv, metrics.json, table.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from bench_brats_protocol import write_results
from bench_other_anatomy import MAX_HOLE, candidates, label
from skimage.restoration import inpaint_biharmonic

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_path
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import native_known_mask
from medinpaint.masks import lesion_disks
from medinpaint.native_inpainting import inpaint_native
from medinpaint.pipeline import fill_intensity, load_slices
from medinpaint.tissue_contrast import tissue_intensity
from medinpaint.transforms.array import IntensityToUnit

MASKS = ("box:16", "dropout:0.25", "dropout:0.5", "dropout:0.8", "centre", "random-box", "quarter", "pattern")
RADII_MM = (3, 6, 12)
TIE = 1.001  # a fill within 0.1 % of biharmonic's MAE is level with it (a weight of 0 is the biharmonic fill, up to rounding)


def brain_slices(dipy: Path | None) -> list[tuple[str, np.ndarray, float]]:
    """(name, axial slice, voxel mm) of the template's held-out slab, nibabel's crop and dipy's slice."""
    template = np.asarray(nib.load(sample_path()).dataobj, np.float32)
    crop_path = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    crop = np.asarray(nib.load(crop_path).dataobj, np.float32)
    chosen = [(f"template z={z}", template[:, :, z], 1.0) for z in (100, 115, 130)]
    chosen += [(f"crop z={z}", crop[:, :, z], 2.0) for z in (8, 12, 16)]
    if dipy is not None:
        chosen.append(("dipy", np.round(np.load(dipy) * 255).astype(np.float32), 1.0))
    return chosen


def score(native: torch.Tensor, known: torch.Tensor, intensity: IntensityToUnit, models) -> dict:
    """Hole MAE of the network fill with and without the check, and of biharmonic filling; the weights; seconds."""
    hole = (known < 0.5)[:, 0].numpy()
    truth = native[:, 0].double().numpy()
    row = {}
    for name, check in (("checked", True), ("unchecked", False)):
        started = time.perf_counter()
        fill = inpaint_native(native, known, models, intensity, method="network", copy_check=check)
        row[f"seconds_{name}"] = round(time.perf_counter() - started, 2)
        row[f"mae_{name}"] = float(np.abs(fill.filled[:, 0].double().numpy() - truth)[hole].mean())
        if check:
            row["weights"] = [round(float(w), 3) for w in fill.correction_weights]
    biharmonic = np.stack([inpaint_biharmonic(np.where(h, 0, t), h) for t, h in zip(truth, hole)])
    row["mae_biharmonic"] = float(np.abs(biharmonic - truth)[hole].mean())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/copy_check"))
    parser.add_argument("--dipy", type=Path, default=None, help="dipy's t1_coronal_slice.npy (from its wheel; dipy is not a dependency)")
    parser.add_argument("--masks", default=",".join(MASKS), help="generated masks on the brain slices")
    parser.add_argument("--max-side", type=int, default=1100, help="other anatomy: leave out images with a longer side (radiographs)")
    parser.add_argument("--max-hole", type=int, default=MAX_HOLE, help="other anatomy: leave out a mask with more hole pixels than this")
    args = parser.parse_args()
    models = load_models(device="cpu")
    rows = []

    def add(group: str, image: str, mask: str, native, known, intensity) -> None:
        rows.append({"group": group, "image": image, "mask": mask, **score(native, known, intensity, models)})
        print(json.dumps(rows[-1]), flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        for name, plane, mm in brain_slices(args.dipy):
            path = Path(scratch) / "slice.nii.gz"
            nib.save(nib.Nifti1Image(plane[:, :, None], np.diag([mm, mm, mm, 1.0])), path)
            loaded = load_slices(path, domain="mri")
            native = loaded.native.float()
            for mask in args.masks.split(","):
                add("brain", name, mask, native, native_known_mask(mask, loaded, seed=0), IntensityToUnit(loaded.record.low, loaded.record.high))
            shown = native[0, 0].numpy()  # the slice as loaded (display orientation)
            tissue = shown > 0.1 * np.percentile(shown, 99.5)
            for radius in RADII_MM:
                for seed in (0, 1):
                    try:
                        holes = lesion_disks(tissue, max(1, round(radius / mm)), 4, np.random.default_rng(seed))
                    except MedinpaintError:  # a small slice has no room for 4 large disks
                        continue
                    known = torch.from_numpy(~holes).float()[None, None]
                    intensity = tissue_intensity(models, native, known, fill_intensity(loaded, known, models.normalisation))
                    add("brain", name, f"disks {radius} mm, seed {seed}", native, known, intensity)
    seen = set()
    for path, _, loaded in candidates():
        frame = loaded.native[:1].float()
        digest = hashlib.sha1(frame.numpy().tobytes()).hexdigest()
        if max(frame.shape[-2:]) > args.max_side or digest in seen:
            continue
        seen.add(digest)
        for mask in ("box:16", "dropout:0.5"):
            known = native_known_mask(mask, loaded, seed=0)[:1]
            if int((known < 0.5).sum()) > args.max_hole:
                continue
            add("other anatomy", label(path), mask, frame, known, IntensityToUnit(loaded.record.low, loaded.record.high))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(rows, indent=1))
    write_results(args.out, [{k: v for k, v in row.items() if k != "weights"} for row in rows], table(rows))


def table(rows: list[dict]) -> str:
    """Per group and image set: geometric means of the MAE ratios, and counts of fills above biharmonic's."""
    lines = [
        "| images | fills | checked / unchecked MAE (geometric mean) | unchecked / biharmonic | checked / biharmonic | above biharmonic (by > 0.1 %): unchecked, checked | checked > 1 % above unchecked | weight < 0.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    sets = {}
    for row in rows:
        sets.setdefault(row["group"] if row["group"] != "brain" else row["image"].split(" ")[0], []).append(row)
    for name, chosen in sets.items():

        def mean_ratio(top: str, bottom: str) -> float:
            return math.exp(sum(math.log(max(r[top], 1e-12) / max(r[bottom], 1e-12)) for r in chosen) / len(chosen))

        above = [sum(r[f"mae_{k}"] > TIE * r["mae_biharmonic"] for r in chosen) for k in ("unchecked", "checked")]
        worse = sum(r["mae_checked"] > 1.01 * r["mae_unchecked"] for r in chosen)
        low = sum(min(r["weights"]) < 0.5 for r in chosen)
        lines.append(
            f"| {name} | {len(chosen)} | {mean_ratio('mae_checked', 'mae_unchecked'):.3f} | {mean_ratio('mae_unchecked', 'mae_biharmonic'):.3f} | "
            f"{mean_ratio('mae_checked', 'mae_biharmonic'):.3f} | {above[0]}, {above[1]} | {worse} | {low} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
