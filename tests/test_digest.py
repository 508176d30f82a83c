"""Bit-for-bit guard: fixed models, inputs and seeds give the outputs recorded before issue 12's
restructuring.

Each operation runs with an explicit model (the shipped ``brain_mri_slices`` checkpoint or a tiny
seeded untrained one; never the default model, which will be replaced) and a fixed search seed,
and its output arrays (and the pixel data of the files it wrote) are hashed with SHA-256. The
digests below were recorded from the code before the restructuring; a change of any of them
means the restructuring changed a result.

Float kernels differ in their last bits between CPUs (torch, oneDNN, MKL and NumPy pick AVX2,
AVX-512 or AMX code at run time), so the operations run in a child process pinned to portable
numerics (``PORTABLE_NUMERICS``: baseline SIMD only, MKL's compatible mode, one thread), where
the same code gives the same bits on any x86-64 machine. Re-record (``python tests/test_digest.py``
prints the digests under those settings) only for an intended change of results, and say so in
the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import torch
from pydicom.data import get_testdata_file

from medinpaint.checkpoint import make_checkpoint, save_checkpoint, shipped_checkpoint_path
from medinpaint.config import TrainConfig
from medinpaint.data.sample import sample_path
from medinpaint.experiments.demo import run_demo
from medinpaint.experiments.dropout import run_dropout
from medinpaint.experiments.results import read_metrics_csv
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.networks import Discriminator, Generator
from medinpaint.windows import WindowConfig

SEARCH = SearchConfig(iterations=20, restarts=2, seed=0, precision="fp32")

PORTABLE_NUMERICS = {
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Prescott",
    "OMP_NUM_THREADS": "1",
}

RECORDED = {  # recorded from main at daeff8e (before the restructuring) under PORTABLE_NUMERICS
    "dicom_slices_output": "6f6beab7d5047f068fb3a1765de032e2226b255075abb3ddfab3954a0d85f3a1",
    "dicom_slices_raw": "5f8a07d6c6656a27a8625a53b9c0808ba4fadb5e4d01ef6724d83e23fea379f5",
    "dicom_slices_uncertainty": "df5431bc11daf7ee0801380eceef0364875b95e35c881d1dd3d43a92d30d2227",
    "dicom_slices_loss": "bb15839594d4e2dd96c2d0df575f156c5a59d0c4615f4306f2bd8c114bd5940f",
    "nifti_windows_output": "583cf398c71d2d60db930ccd6be058d4499cfd89a3be512af147484c6bd675fd",
    "nifti_windows_slices": "74c2ea681e78ff912f32326e1198ef8797fadf6e2efe585f886a2b4c370c26f3",
    "nifti_slices_output": "24a293d1af0f31899e2727dbd2d0dd87fe1d41b14f6a75e3a5cbe028ee0bc049",
    "nifti_slices_slices": "74c2ea681e78ff912f32326e1198ef8797fadf6e2efe585f886a2b4c370c26f3",
    "demo_metrics": "da9fd396792156f018d3db9e2d7214805be256be442711ee541ca4b6b1a9c6cf",
    "dropout_metrics": "61c580d3a78a7ed0e4cc563fb6bfcd259cb63da68e6ef591a811df93b4b9e087",
}


def _sha(array) -> str:
    array = np.ascontiguousarray(np.asarray(array))
    return hashlib.sha256(str(array.dtype).encode() + str(array.shape).encode() + array.tobytes()).hexdigest()


def _rows_sha(path: Path) -> str:
    """The metric values of a metrics.csv (every column but free-text notes; no timings).

    The demo's native lesion rows (added after the digest was recorded, by design) are left out:
    the digest covers what existed then, the 64×64 grid part.
    """
    rows = [row for row in read_metrics_csv(path) if row["metric"] != "seconds" and not str(row.get("mask", "")).startswith("lesions")]
    text = "\n".join(",".join(f"{k}={v}" for k, v in sorted(row.items()) if k != "note") for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def _tiny_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    config = TrainConfig(nz=16, ngf=8, ndf=8, sampling="windows")
    generator, discriminator = Generator(nz=16, ngf=8, nc=1), Discriminator(ndf=8, nc=1)
    return save_checkpoint(make_checkpoint(config, generator, discriminator, step=0, epoch=0), path)


def _nifti_crop(folder: Path) -> tuple[Path, Path]:
    """A 90×100×4 crop of the embedded MNI152 sample and a mask volume (fill two boxes)."""
    image = nib.load(sample_path())
    crop = np.asarray(image.dataobj[40:130, 50:150, 70:74], dtype=np.float32)
    mask = np.zeros(crop.shape, np.uint8)
    mask[30:50, 40:60, 1] = 1
    mask[50:62, 20:34, 2] = 1
    image_path, mask_path = folder / "crop.nii.gz", folder / "crop_mask.nii.gz"
    nib.save(nib.Nifti1Image(crop, image.affine), str(image_path))
    nib.save(nib.Nifti1Image(mask, image.affine), str(mask_path))
    return image_path, mask_path


def compute_digests(folder: Path) -> dict[str, str]:
    """Run every fixed operation in ``folder`` and return {name: sha256}."""
    digests = {}
    slices_model = shipped_checkpoint_path("brain_mri_slices")
    report = inpaint_file(
        get_testdata_file("MR_small.dcm"), "quarter", folder / "mr.dcm", raw_output=folder / "mr_raw.dcm",
        uncertainty_output=folder / "mr_spread.npy", checkpoint="brain_mri_slices", grid="slices",
        search=SEARCH, device="cpu", progress=False,
    )
    digests["dicom_slices_output"] = _sha(pydicom.dcmread(report.outputs["output"]).pixel_array)
    digests["dicom_slices_raw"] = _sha(pydicom.dcmread(report.outputs["raw"]).pixel_array)
    digests["dicom_slices_uncertainty"] = _sha(np.load(report.outputs["uncertainty"]))
    digests["dicom_slices_loss"] = _sha(np.array(report.loss))

    tiny = _tiny_checkpoint(folder / "tiny.pt")
    image_path, mask_path = _nifti_crop(folder)
    for grid in ("windows", "slices"):
        report = inpaint_file(
            image_path, str(mask_path), folder / f"crop_{grid}.nii.gz", checkpoint=tiny, grid=grid,
            search=SEARCH, device="cpu", progress=False,
            windowing=WindowConfig(max_share=0.15),  # the default when the digest was recorded (now 0.05)
            prior_weight=1.0,  # likewise (now 0.4 on windows): the generator's fill, unshrunk
        )
        digests[f"nifti_{grid}_output"] = _sha(np.asarray(nib.load(report.outputs["output"]).dataobj))
        digests[f"nifti_{grid}_slices"] = _sha(np.array(report.slices))

    demo = run_demo(
        folder / "demo", n_slices=2, masks=("quarter", "dropout:0.8"), search=SEARCH, checkpoint=slices_model,
        seed=0, device="cpu", progress=False,
    )
    digests["demo_metrics"] = _rows_sha(demo / "metrics.csv")
    dropout = run_dropout(
        folder / "dropout", rates=(0.5, 0.9), checkpoint=slices_model, n_images=2, search=SEARCH, seed=0,
        device="cpu", progress=False,
    )
    digests["dropout_metrics"] = _rows_sha(dropout / "metrics.csv")
    return digests


def test_outputs_are_bit_for_bit_those_recorded_before_the_restructuring(tmp_path: Path):
    env = {**os.environ, **PORTABLE_NUMERICS}
    child = subprocess.run(
        [sys.executable, __file__, str(tmp_path)], env=env, capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert json.loads(child.stdout.splitlines()[-1]) == RECORDED


if __name__ == "__main__":  # a child of the test (folder given) or, alone, print the digests to record
    if os.environ.get("ATEN_CPU_CAPABILITY") != PORTABLE_NUMERICS["ATEN_CPU_CAPABILITY"]:
        sys.exit("error: run with the PORTABLE_NUMERICS environment (see this file's docstring)")
    torch.set_num_threads(1)
    if len(sys.argv) > 1:
        print(json.dumps(compute_digests(Path(sys.argv[1]))))
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            for name, digest in compute_digests(Path(folder)).items():
                print(f'    "{name}": "{digest}",')
