"""Shared fixtures: real DICOM/NIfTI test files and small folders written from real data."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path as nibabel_data
from PIL import Image
from pydicom.data import get_testdata_file

REAL_T1 = Path(nibabel_data) / "anatomical.nii"  # a real subject's T1: 2 mm, LAS, 33 × 41 × 25, SPM-normalised (its world coordinates are MNI's)


def pytest_configure(config):
    """One torch thread per test process: the suite runs as 2 xdist workers on 2 cores, and
    oversubscribed OpenMP threads slowed small networks down up to 100× here. The xdist
    controller runs no test, so it does not import torch (2 s before the workers start)."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    import torch

    torch.set_num_threads(1)


def benchmark_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dicom_test_file(name: str) -> Path:
    """A pydicom / pydicom-data test file that is on disk (never downloaded)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(path)


@pytest.fixture(scope="module")
def real_t1() -> tuple[np.ndarray, np.ndarray]:
    """nibabel's real T1 (:data:`REAL_T1`): its voxels (float32) and affine."""
    image = nib.load(REAL_T1)
    return np.asanyarray(image.dataobj).astype(np.float32), image.affine


@pytest.fixture(scope="session")
def mr_series_dir(tmp_path_factory) -> Path:
    """A real 7-slice MR series (pydicom's dicomdirtests/98892003/MR700) in its own folder."""
    source = dicom_test_file("CT_small.dcm").parent / "dicomdirtests" / "98892003" / "MR700"
    target = tmp_path_factory.mktemp("series") / "MR700"
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="session")
def celeba_root(tmp_path_factory) -> Path:
    """A CelebA-layout folder: 6 JPGs of 178×218 (astronaut crops) and a partition file (4/1/1)."""
    from skimage.data import astronaut

    root = tmp_path_factory.mktemp("celeba")
    images = root / "img_align_celeba"
    images.mkdir()
    photo = astronaut()
    lines = []
    for i in range(6):
        crop = photo[20 * i : 20 * i + 218, 30 * i : 30 * i + 178]
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(crop).save(images / name, quality=95)
        lines.append(f"{name} {0 if i < 4 else i - 3}")
    (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture()
def smooth_native() -> np.ndarray:
    """A smooth grey image (1, 90, 70) in [0, 255] for geometry round trips."""
    rows, cols = np.meshgrid(np.linspace(0, 1, 90), np.linspace(0, 1, 70), indexing="ij")
    return (127.5 + 100 * np.sin(2 * rows) * np.cos(1.5 * cols))[None].astype(np.float32)
