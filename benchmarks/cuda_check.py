"""Check: the CUDA path gives the CPU path's fills, and training runs on the GPU (run where CUDA is).

Runs ``medinpaint`` as a user would, once with ``--device cuda`` and once with ``--device cpu``:

* ``inpaint`` of a 3-D NIfTI volume (held-out tumour-sized hole in the embedded T1, the CLI's
  defaults: the 3-D network fill), at 1 mm and averaged to 1 × 1 × 3 mm slices (the finer-grid path);
* ``inpaint --method search --fill slices`` of a lesion on one axial slice (the latent search);
* ``train --config brain_mri`` for a few steps and ``train-fill`` for a few steps on CUDA.

For each fill: the largest and mean absolute difference between the two devices' outputs in the
hole, as a share of the input's 0.5–99.5 percentile span, and the seconds each took; known voxels
must be bit-identical to the input on both.

Run: ``python benchmarks/cuda_check.py --out results/cuda_check`` (``--out``: cuda_check.json). Run on an
NVIDIA H200 on 2026-12-04 (torch 2.11.0+cu130): the figures are in docs/performance.md, "On a GPU".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_brats_protocol import tumour_hole  # noqa: E402
from medinpaint.data.sample import sample_volume  # noqa: E402
from medinpaint.inpainting.fill_grid import block_mean  # noqa: E402


THICK = (1, 1, 3)  # 1 mm voxels averaged into one voxel of the thick-slice case


def medinpaint(*args: str) -> float:
    """Run ``python -m medinpaint ARGS``; the seconds it took (raises on a non-zero exit)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "medinpaint", *args], check=True)
    return time.perf_counter() - started


def compare(case: str, image: Path, mask: Path, folder: Path, extra: tuple[str, ...]) -> dict:
    """Fill ``image`` on both devices; differences in the hole and timings."""
    truth = np.asanyarray(nib.load(image).dataobj)
    hole = np.asanyarray(nib.load(mask).dataobj) > 0
    span = float(np.subtract(*np.percentile(truth, [99.5, 0.5])))
    outputs, seconds = {}, {}
    for device in ("cuda", "cpu"):
        out = folder / f"{case}_{device}.nii.gz"
        seconds[device] = medinpaint("inpaint", "-i", str(image), "-m", str(mask), "-o", str(out), "--device", device, "--overwrite", *extra)
        outputs[device] = np.asanyarray(nib.load(out).dataobj).astype(np.float64)
        assert np.array_equal(outputs[device][~hole], truth[~hole]), f"{case} {device}: known voxels changed"
    difference = np.abs(outputs["cuda"] - outputs["cpu"])[hole] / span
    row = {"case": case, "hole_voxels": int(hole.sum()), "max_difference": float(difference.max()),
           "mean_difference": float(difference.mean()), "seconds_cuda": seconds["cuda"], "seconds_cpu": seconds["cpu"]}  # fmt: skip
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/cuda_check"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("error: CUDA is not available here: run this check on a machine with a GPU")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    volume, affine = sample_volume()
    hole = tumour_hole(volume, np.random.default_rng(0), "heldout")
    box = tuple(slice(max(int(i.min()) - 40, 0), int(i.max()) + 41) for i in np.nonzero(hole))
    crop, crop_hole = volume[box], hole[box]
    whole = tuple(slice(0, n - n % b) for n, b in zip(crop.shape, THICK))
    cases = {"3d_1mm": (crop, crop_hole, affine[:3, :3]), "3d_thick": (
        block_mean(crop[whole], THICK).astype(np.float32),
        block_mean(crop_hole[whole].astype(np.float32), THICK) > 0,
        affine[:3, :3] * np.array(THICK),
    )}
    lesion = np.zeros_like(crop_hole)
    centre = [int(np.mean(i)) for i in np.nonzero(crop_hole)]
    grid = np.mgrid[tuple(slice(0, n) for n in crop.shape[:2])]
    lesion[..., centre[2]] = ((grid[0] - centre[0]) ** 2 + (grid[1] - centre[1]) ** 2) <= 36
    cases["search_slice"] = (crop, lesion, affine[:3, :3])
    rows = []
    for case, (image, region, linear) in cases.items():
        frame = np.eye(4)
        frame[:3, :3] = linear
        nib.save(nib.Nifti1Image(np.ascontiguousarray(image, np.float32), frame), args.out / f"{case}.nii.gz")
        nib.save(nib.Nifti1Image(region.astype(np.uint8), frame), args.out / f"{case}_mask.nii.gz")
        extra = ("--method", "search", "--fill", "slices", "--iterations", "300") if case == "search_slice" else ()
        rows.append(compare(case, args.out / f"{case}.nii.gz", args.out / f"{case}_mask.nii.gz", args.out, extra))
    training = {
        "train_seconds": medinpaint("train", "--config", "brain_mri", "--set", "steps=40", "--set", "window_count=4000",
                                    "--set", "device=cuda", "--out-dir", str(args.out / "train")),
        "train_fill_seconds": medinpaint("train-fill", "--config", "brain_mri", "--set", "steps=40", "--set", "window_count=2000", "--set", "device=cuda",
                                         "--out-dir", str(args.out / "train_fill")),
    }  # fmt: skip
    print(json.dumps(training), flush=True)
    (args.out / "cuda_check.json").write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                                           "fills": rows, **training}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
