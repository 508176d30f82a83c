"""Other anatomy: the shipped brain-MR model's fill against biharmonic filling on every other greyscale
DICOM image of pydicom's test files and pydicom-data.

The default model learned one thing, the embedded MNI152 T1. A user may still give it any greyscale
DICOM (only a CT image is refused, being a CT with an MR model): an abdomen MR, a chest radiograph,
a bone scan, an ultrasound frame. This runs ``medinpaint inpaint`` with the CLI's defaults on each
such file of the test data (a subprocess, as a user runs it; ``--seed 0``), with each generated mask
of ``--masks``, and scikit-image's ``inpaint_biharmonic`` frame by frame on the same holes, and
scores both by hole MAE in the file's own units (stored values after any rescale). It also reads what
the header says (:func:`medinpaint.io.dicom_anatomy.not_head_mr`) and checks that the CLI's report carries a
``note:`` line exactly when the header says the image is not an MR of the head.

Files: every greyscale (MONOCHROME1/2) file that pydicom's ``get_testdata_files()`` lists, that
``medinpaint.pipeline.load_slices`` reads and whose Modality is not CT. Images whose holes exceed ``--max-hole``
pixels are left out for that mask (scikit-image's biharmonic solve of a radiograph's 1.8 M dropout
pixels does not end in reasonable time on 2 cores). The summary counts distinct images (the same
pixels in another transfer syntax are one image).

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_other_anatomy.py``
Writes ``--out`` (default results/other_anatomy/): metrics.csv, metrics.json, table.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
from bench_brats_protocol import run_cli, write_results
from pydicom.data import get_testdata_files
from skimage.restoration import inpaint_biharmonic

from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import native_known_mask
from medinpaint.io.dicom_anatomy import not_head_mr
from medinpaint.pipeline import LoadedSlices, load_slices

MASKS = ("box:16", "dropout:0.5")
MAX_HOLE = 400_000


def candidates() -> Iterator[tuple[Path, pydicom.Dataset, LoadedSlices]]:
    """The test data's greyscale, decodable, non-CT DICOM images, with their headers and frames, one at a time."""
    for name in sorted(get_testdata_files()):
        path = Path(name)
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # not a DICOM file (a DICOMDIR's other files, text)
            continue
        if "Rows" not in header or header.get("Modality") == "CT" or not str(header.get("PhotometricInterpretation", "")).startswith("MONOCHROME"):
            continue  # CT is refused with an MR model, PALETTE COLOR (indices, not intensities) by the CLI
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = load_slices(path, domain="mri")
        except MedinpaintError:  # undecodable, truncated, no pixels: the corpus test's refused files
            continue
        yield path, header, loaded


def label(path: Path) -> str:
    """The file's path under pydicom's test_files/ or pydicom-data's data/."""
    parts = path.parts
    for root in ("test_files", "data"):
        if root in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(root) :])
    return path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/other_anatomy"))
    parser.add_argument("--masks", default=",".join(MASKS), help="comma-separated generated masks (medinpaint inpaint -m)")
    parser.add_argument("--max-hole", type=int, default=MAX_HOLE, help="leave out a file's mask with more hole pixels than this")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for path, header, loaded in candidates():
            frames = loaded.native[:, 0].numpy().astype(np.float64)
            said = not_head_mr(header)
            for mask in args.masks.split(","):
                known = native_known_mask(mask, loaded, seed=0)[:, 0].numpy() > 0.5
                hole = ~known
                if hole.sum() > args.max_hole:
                    continue
                output = Path(scratch) / "filled.dcm"
                output.unlink(missing_ok=True)
                started = time.perf_counter()
                report = run_cli(["inpaint", "-i", str(path), "-m", mask, "-o", str(output), "--seed", "0"])
                seconds = time.perf_counter() - started
                filled = load_slices(output, domain="mri").native[:, 0].numpy().astype(np.float64)
                biharmonic = np.stack([inpaint_biharmonic(frame, ~k) if (~k).any() else frame for frame, k in zip(frames, known)])
                rows.append({
                    "file": label(path), "mask": mask, "header": said or "", "noted": "note:" in report,
                    "image": hashlib.sha1(frames.tobytes()).hexdigest()[:12], "frames": len(frames),
                    "size": f"{frames.shape[1]}x{frames.shape[2]}", "hole_pixels": int(hole.sum()),
                    "mae_medinpaint": float(np.abs(filled - frames)[hole].mean()), "mae_biharmonic": float(np.abs(biharmonic - frames)[hole].mean()),
                    "seconds": round(seconds, 1),
                })  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(rows, indent=1))
    write_results(args.out, rows, table(rows))


def table(rows: list[dict]) -> str:
    """Per distinct image and mask (one file named), and the counts of images the default fills worse."""
    distinct = {(row["image"], row["mask"]): row for row in rows}.values()
    lines = [
        "| file | header (noted) | mask | frames × size | hole px | hole MAE medinpaint | biharmonic | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(distinct, key=lambda r: (r["header"] == "", r["file"], r["mask"])):
        ratio = row["mae_medinpaint"] / max(row["mae_biharmonic"], 1e-12)
        lines.append(
            f"| {row['file']} | {row['header'] or '—'}{' (noted)' if row['noted'] else ''} | {row['mask']} | {row['frames']} × {row['size']} | "
            f"{row['hole_pixels']} | {row['mae_medinpaint']:.4g} | {row['mae_biharmonic']:.4g} | {ratio:.2f} |"
        )
    lines.append("")
    for noted in (True, False):
        for mask in sorted({row["mask"] for row in distinct}):
            chosen = [row for row in distinct if bool(row["header"]) == noted and row["mask"] == mask]
            worse = sum(row["mae_medinpaint"] > row["mae_biharmonic"] for row in chosen)
            lines.append(f"- {'header says not a head MR' if noted else 'header says nothing against'}, {mask}: medinpaint's hole MAE above biharmonic's in {worse} of {len(chosen)} distinct images")
    mismatched = [row["file"] for row in rows if row["noted"] != bool(row["header"])]
    lines.append(f"- note line exactly where the header says so: {'yes' if not mismatched else 'NO: ' + ', '.join(mismatched)}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
