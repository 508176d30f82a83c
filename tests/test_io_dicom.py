"""DICOM reading (file, multi-frame, series, compressed) and derived-DICOM writing, on real files."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
import torch
from conftest import dicom_test_file

from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.io.dicom import read_dicom
from medinpaint.io.dicom_anatomy import not_head_mr
from medinpaint.pipeline import load_slices, save_like


def test_ct_small_is_in_plausible_hu():
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    assert loaded.domain == "ct"
    assert loaded.images.shape == (1, 1, 64, 64) and loaded.native.shape == (1, 1, 128, 128)
    hu = loaded.native
    assert -1100 <= hu.min() and hu.max() <= 3100
    assert -400 < hu.mean() < 200  # soft tissue around air, not raw stored values
    assert loaded.images.min() >= -1 and loaded.images.max() <= 1
    assert (loaded.record.low, loaded.record.high) == (-1000.0, 1000.0)


def test_ct_window_is_configurable():
    from medinpaint.normalisation import Normalisation

    loaded = load_slices(dicom_test_file("CT_small.dcm"), normalisation=Normalisation("ct_window", (40, 400)))
    assert (loaded.record.low, loaded.record.high) == (-160.0, 240.0)


def test_mr_small_and_multiframe():
    mr = load_slices(dicom_test_file("MR_small.dcm"))
    assert mr.domain == "mri" and mr.native.shape == (1, 1, 64, 64)
    frames = load_slices(dicom_test_file("emri_small.dcm"))
    assert frames.source.layout == "multiframe"
    assert frames.images.shape == (10, 1, 64, 64) and frames.slice_indices == tuple(range(10))
    picked = load_slices(dicom_test_file("emri_small.dcm"), slices=[2, 5])
    assert torch.equal(picked.native, frames.native[[2, 5]])


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"])
def test_compressed_matches_uncompressed(name):
    plain, _ = read_dicom(dicom_test_file("MR_small.dcm"))
    compressed, _ = read_dicom(dicom_test_file(name))
    assert np.array_equal(plain, compressed)


def test_rgb_dicom_is_three_channel_photo():
    loaded = load_slices(dicom_test_file("SC_rgb.dcm"))
    assert loaded.domain == "photo" and loaded.images.shape == (1, 3, 64, 64)


def test_series_folder_is_ordered_along_the_normal(mr_series_dir):
    loaded = load_slices(mr_series_dir)
    assert loaded.source.layout == "series" and loaded.native.shape[0] == 7
    datasets = loaded.source.datasets
    orientation = np.asarray(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = [float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=float))) for ds in datasets]
    assert positions == sorted(positions)


def test_save_like_file_keeps_pixels_outside_the_change(tmp_path):
    source = dicom_test_file("CT_small.dcm")
    loaded = load_slices(source)
    result = loaded.native.clone()
    result[..., 40:60, 50:70] = 40.0  # 40 HU
    out = save_like(loaded, result, tmp_path / "out.dcm", description="medinpaint test")
    original, derived = pydicom.dcmread(source), pydicom.dcmread(out)
    assert derived.SOPInstanceUID != original.SOPInstanceUID
    assert derived.file_meta.MediaStorageSOPInstanceUID == derived.SOPInstanceUID
    assert derived.SeriesInstanceUID != original.SeriesInstanceUID
    assert list(derived.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert derived.DerivationDescription == "medinpaint test"
    assert derived.PatientName == original.PatientName
    changed = np.zeros((128, 128), bool)
    changed[40:60, 50:70] = True
    assert np.array_equal(derived.pixel_array[~changed], original.pixel_array[~changed])
    assert np.all(derived.pixel_array[changed] == 40 - int(original.RescaleIntercept))
    assert derived.pixel_array.dtype == original.pixel_array.dtype


def test_save_like_compressed_is_written_uncompressed(tmp_path):
    loaded = load_slices(dicom_test_file("MR_small_RLE.dcm"))
    out = save_like(loaded, loaded.native, tmp_path / "out.dcm", description="copy")
    derived = pydicom.dcmread(out)
    assert derived.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert np.array_equal(derived.pixel_array, pydicom.dcmread(dicom_test_file("MR_small.dcm")).pixel_array)


def test_save_like_multiframe_and_series(tmp_path, mr_series_dir):
    frames = load_slices(dicom_test_file("emri_small.dcm"), slices=[3])
    out = save_like(frames, frames.native + 5, tmp_path / "multi.dcm", description="x")
    derived, original = pydicom.dcmread(out), pydicom.dcmread(dicom_test_file("emri_small.dcm"))
    assert int(derived.NumberOfFrames) == 10
    assert np.array_equal(derived.pixel_array[[0, 1, 2, 4]], original.pixel_array[[0, 1, 2, 4]])
    assert np.array_equal(derived.pixel_array[3], original.pixel_array[3] + 5)

    series = load_slices(mr_series_dir)
    folder = save_like(series, series.native, tmp_path / "series_out", description="x")
    written = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    assert len(written) == 7
    assert len({ds.SeriesInstanceUID for ds in written}) == 1
    assert len({ds.SOPInstanceUID for ds in written}) == 7
    assert written[0].SeriesInstanceUID != series.source.datasets[0].SeriesInstanceUID


def test_monochrome1_is_inverted_and_written_back(tmp_path):
    ds = pydicom.dcmread(dicom_test_file("CT_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    mono1 = load_slices(path, domain="ct").native
    mono2 = load_slices(dicom_test_file("CT_small.dcm")).native
    assert torch.allclose(mono1 - float(ds.RescaleIntercept), -(mono2 - float(ds.RescaleIntercept)) - 1)
    loaded = load_slices(path, domain="ct")
    out = save_like(loaded, loaded.native, tmp_path / "mono1_out.dcm", description="x")
    assert np.array_equal(pydicom.dcmread(out).pixel_array, ds.pixel_array)


def test_existing_output_is_refused(tmp_path):
    loaded = load_slices(dicom_test_file("CT_small.dcm"))
    out = save_like(loaded, loaded.native, tmp_path / "out.dcm", description="x")
    before = out.read_bytes()
    with pytest.raises(MedinpaintError, match="out.dcm exists: pass --overwrite or choose another path"):
        save_like(loaded, loaded.native + 1, out, description="x")
    assert out.read_bytes() == before
    save_like(loaded, loaded.native + 1, out, overwrite=True, description="x")
    assert out.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["out.dcm"]  # no temporary left behind


def test_truncated_dicom_is_reported():
    with pytest.raises(MedinpaintError, match="truncated"):
        load_slices(dicom_test_file("MR_truncated.dcm"))


def test_dicom_without_pixels_is_reported():
    with pytest.raises(MedinpaintError, match="rtplan.dcm holds no pixel data"):
        load_slices(dicom_test_file("rtplan.dcm"))


def test_folder_with_two_series_is_reported(tmp_path):
    shutil.copy(dicom_test_file("CT_small.dcm"), tmp_path / "a.dcm")
    shutil.copy(dicom_test_file("MR_small.dcm"), tmp_path / "b.dcm")
    with pytest.raises(MedinpaintError, match="holds 2 DICOM series .*put each series in its own folder"):
        load_slices(tmp_path)


def test_unknown_modality_asks_for_domain(tmp_path):
    ds = pydicom.dcmread(dicom_test_file("CT_small.dcm"))
    ds.Modality = "CR"
    ds.save_as(tmp_path / "cr.dcm")
    with pytest.raises(MedinpaintError, match="modality 'CR': pass domain='ct', 'mri' or 'photo'"):
        load_slices(tmp_path / "cr.dcm")
    assert load_slices(tmp_path / "cr.dcm", domain="ct").domain == "ct"


def test_undecodable_transfer_syntax_names_the_packages(tmp_path):
    ds = pydicom.dcmread(dicom_test_file("MR_small_RLE.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9.9999.1"  # compressed syntax no plugin knows
    ds.save_as(tmp_path / "odd.dcm")
    with pytest.raises(MedinpaintError, match="no decoder for DICOM odd.dcm .*pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"):
        load_slices(tmp_path / "odd.dcm", domain="mri")


def test_damaged_compressed_pixels_are_reported():
    path = dicom_test_file("JPEG-lossy.dcm")  # pydicom's own example of a stream libjpeg rejects
    with pytest.raises(MedinpaintError, match=r"pixel data of DICOM JPEG-lossy.dcm \(JPEG Extended .*could not be decoded \(.*libjpeg error"):
        load_slices(path, domain="ct")


@pytest.mark.parametrize(
    "name, said",
    [
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", "Modality MR, BodyPartExamined ABDOMEN"),
        ("JPEG2000.dcm", "Modality NM, BodyPartExamined WHOLE BODY"),
        ("emri_small.dcm", None),  # MR, HEAD
        ("MR_small.dcm", None),  # MR, no body part
        ("MR2_J2KI.dcm", "Modality MR, StudyDescription SHOULDER"),  # no BodyPartExamined: its description read
        ("image_dfl.dcm", None),  # OT: says nothing
    ],
)
def test_headers_that_say_the_image_is_not_a_head_mr(name, said):
    assert not_head_mr(pydicom.dcmread(dicom_test_file(name), stop_before_pixels=True)) == said


def test_the_report_notes_anatomy_the_brain_model_did_not_learn(tmp_path):
    """emri_small (MR of the HEAD) is filled without a note; the same file saying KNEE gets one note line that
    names the tag and the way out, and is filled all the same."""
    knee = pydicom.dcmread(dicom_test_file("emri_small.dcm"))
    knee.BodyPartExamined = "KNEE"
    knee.save_as(tmp_path / "knee.dcm")
    head = inpaint_file(dicom_test_file("emri_small.dcm"), "box:16", tmp_path / "head_out.dcm", slices=[0], progress=False)
    noted = inpaint_file(tmp_path / "knee.dcm", "box:16", tmp_path / "knee_out.dcm", slices=[0], progress=False)
    assert head.notes == () and "note:" not in str(head)
    assert [line for line in str(noted).splitlines() if line.startswith("note:")] == [
        "note: knee.dcm says Modality MR, BodyPartExamined KNEE, and brain_mri_dcgan.pt learned brain MR (the embedded MNI152 T1): on other "
        'anatomy its fill can be worse than a classical fill (docs/results.md, "Other anatomy"); for such images, train '
        "a prior on them (medinpaint train --config folder)"
    ]
    assert np.array_equal(pydicom.dcmread(tmp_path / "knee_out.dcm").pixel_array, pydicom.dcmread(tmp_path / "head_out.dcm").pixel_array)


def test_a_dicomdir_beside_a_series_is_not_a_frame(tmp_path):
    """A CD export keeps a DICOMDIR (pydicom's, a DICOM file without pixels) beside the images: the folder is
    read as its one image series, and a folder of only the DICOMDIR gets one error line."""
    series = tmp_path / "series"
    shutil.copytree(dicom_test_file("CT_small.dcm").parent / "dicomdirtests" / "77654033" / "CT2", series)
    expected, _ = read_dicom(series)
    shutil.copy(dicom_test_file("DICOMDIR"), series / "DICOMDIR")
    frames, source = read_dicom(series)
    assert np.array_equal(frames, expected) and "DICOMDIR" not in source.files
    (tmp_path / "only").mkdir()
    shutil.copy(dicom_test_file("DICOMDIR"), tmp_path / "only" / "DICOMDIR")
    with pytest.raises(MedinpaintError, match=r"holds no DICOM image \(1 DICOM file\(s\) without pixel data, e.g. DICOMDIR\)"):
        read_dicom(tmp_path / "only")
