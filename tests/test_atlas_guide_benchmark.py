"""The template placement of benchmarks/bench_atlas_guide.py (a prototype measured there) on a real T1."""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from conftest import benchmark_module
from nibabel.processing import resample_from_to
from nibabel.testing import data_path as nibabel_data

from medinpaint.data.sample import sample_path

REAL_T1 = Path(nibabel_data) / "anatomical.nii"  # 2 mm, SPM-normalised: its world coordinates are the template's


def test_the_template_is_placed_where_the_real_t1s_world_coordinates_put_it_and_fits_it_better():
    sys.modules.setdefault("bench_brats_protocol", benchmark_module("bench_brats_protocol"))
    bench = benchmark_module("bench_atlas_guide")
    image = nib.load(REAL_T1)
    volume = np.asanyarray(image.dataobj).astype(np.float32)
    placed, brain, correlation = bench.place_template(volume, volume != 0, image.affine)
    by_header = np.asarray(resample_from_to(nib.load(sample_path()), (volume.shape, image.affine), order=1).dataobj)
    inside = (brain > 0.5) & (by_header > 0)
    assert inside.mean() > 0.8  # the crop lies inside the template's brain
    assert np.corrcoef(placed[inside], by_header[inside])[0, 1] > 0.85  # 0.90: it fits the subject better than the header placement (next line)
    assert correlation > np.corrcoef(by_header[inside], volume[inside])[0, 1]
