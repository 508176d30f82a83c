"""The copy check of a 2-D network fill: copies of the hole beside it, and the weight they give the network's correction."""

from __future__ import annotations

import numpy as np
import pydicom
import torch
from conftest import dicom_test_file
from skimage.restoration import inpaint_biharmonic

from medinpaint.file_inpainting import inpaint_file, native_known_mask
from medinpaint.inpainting.copy_check import MIN_COPY_PIXELS, correction_weights, hole_copies
from medinpaint.inpainting.network_fill import NetworkFill
from medinpaint.masks import lesion_disks
from medinpaint.pipeline import load_slices


def test_copies_lie_beside_the_hole_never_in_it_and_keep_its_size():
    """A box, lesion disks and a 50 % pixel dropout (one part spanning much of the image: the copies move by the
    parts' median extent) each get copies outside the hole; a hole that leaves no room gets none."""
    rng = np.random.default_rng(0)
    box = np.zeros((64, 64), bool)
    box[20:36, 24:40] = True
    disks = lesion_disks(np.ones((96, 96), bool), 4, 5, rng)
    dropout = rng.random((64, 64)) < 0.5
    for hole in (box, disks, dropout):
        copies = hole_copies(hole)
        assert not (copies & hole).any()
        assert MIN_COPY_PIXELS <= copies.sum() <= hole.sum()
    assert int(hole_copies(box).sum()) == int(box.sum())  # the whole box fits beside itself
    nearly_all = np.ones((20, 20), bool)
    nearly_all[0, 0] = False
    assert not hole_copies(nearly_all).any()
    never_run = lambda values, mask: NetworkFill(values * 0, None, values)  # noqa: E731 (no copies: the network is not asked)
    assert correction_weights(torch.rand(1, 1, 20, 20), torch.from_numpy(~nearly_all).float()[None, None], never_run).tolist() == [1.0]


def test_the_check_turns_the_brain_model_down_on_a_bone_scan(tmp_path):
    """A whole-body bone scan (NM) with a centred box: the brain model's correction is weighed near 0, the fill's hole MAE
    falls to within 10 % of biharmonic filling's (it was twice it), the report says the weight; --no-copy-check keeps the
    network's fill and says nothing; known pixels are the input's in both."""
    path = dicom_test_file("JPEG2000_UNC.dcm")
    truth = pydicom.dcmread(path).pixel_array.astype(np.float64)
    hole = native_known_mask("box:16", load_slices(path, domain="mri"))[0, 0].numpy() < 0.5
    checked = inpaint_file(path, "box:16", tmp_path / "checked.dcm", progress=False)
    unchecked = inpaint_file(path, "box:16", tmp_path / "unchecked.dcm", progress=False, copy_check=False)
    biharmonic_mae = np.abs(inpaint_biharmonic(np.where(hole, 0, truth), hole) - truth)[hole].mean()
    maes = {}
    for name in ("checked", "unchecked"):
        filled = pydicom.dcmread(tmp_path / f"{name}.dcm").pixel_array.astype(np.float64)
        assert np.array_equal(filled[~hole], truth[~hole])
        maes[name] = np.abs(filled - truth)[hole].mean()
    assert maes["unchecked"] > 1.5 * biharmonic_mae and maes["checked"] < 1.1 * biharmonic_mae
    assert checked.correction_weights is not None and checked.correction_weights[0] < 0.2
    assert "copy check (--copy-check): the network's correction weighted slice 0: " in str(checked)
    assert unchecked.correction_weights is None and "copy check" not in str(unchecked)
