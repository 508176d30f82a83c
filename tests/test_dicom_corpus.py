"""Every greyscale DICOM of pydicom's test files and pydicom-data that pydicom decodes goes through
``medinpaint inpaint`` and comes out as a valid derived DICOM; the files pydicom cannot decode give
one clear error line.

The corpus lists are explicit and reviewed; ``test_corpus_lists_are_complete`` fails when a pydicom
or pydicom-data release adds a greyscale image that is in neither list.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_files
from pydicom.uid import ExplicitVRLittleEndian
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import native_known_mask
from medinpaint.io.dicom import read_dicom
from medinpaint.pipeline import load_slices, save_like
from test_file_inpainting import tiny_checkpoint

runner = CliRunner()
# a centred 16×16 box on the 64×64 grid (a hole even in a 10×10 dose grid); radiographs over
# 1024 pixels a side get a 4×4 box (still ~120 pixels across), whose exact Poisson blend is 4× faster
MASK, LARGE_IMAGE_MASK = "box:16", "box:4"
# the prior weight's biharmonic solve (tested in test_inpainting_shrinkage.py) would double this
# file's time on the large radiographs; these tests are about the DICOM that comes out
SEARCH = ["--iterations", "5", "--restarts", "1", "--prior-weight", "1"]

# Greyscale (MONOCHROME1/2) images that pydicom decodes, by path under pydicom's test_files/ or
# pydicom-data's data_store/data/. Each must be inpainted and written back.
GREYSCALE = (
    "693_J2KI.dcm", "693_J2KR.dcm", "693_UNCI.dcm", "693_UNCR.dcm", "CT_small.dcm", "J2K_pixelrep_mismatch.dcm",
    "JPEG-LL.dcm", "JPEG2000.dcm", "JPEG2000_UNC.dcm", "JPEGLSNearLossless_08.dcm", "JPEGLSNearLossless_16.dcm",
    "JPGExtended.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm", "MR2_J2KI.dcm",
    "MR2_J2KR.dcm", "MR2_UNCI.dcm", "MR2_UNCR.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm",
    "MR_small_expb.dcm", "MR_small_implicit.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_padded.dcm", "RG1_J2KI.dcm", "RG1_J2KR.dcm", "RG1_UNCI.dcm", "RG1_UNCR.dcm", "RG3_J2KI.dcm",
    "RG3_J2KR.dcm", "RG3_UNCI.dcm", "RG3_UNCR.dcm", "bad_sequence.dcm",
    "dicomdirtests/77654033/CR1/6154", "dicomdirtests/77654033/CR2/6247", "dicomdirtests/77654033/CR3/6278",
    "dicomdirtests/77654033/CT2/17106", "dicomdirtests/77654033/CT2/17136", "dicomdirtests/77654033/CT2/17166",
    "dicomdirtests/77654033/CT2/17196", "dicomdirtests/98892001/CT2N/6293", "dicomdirtests/98892001/CT2N/6924",
    "dicomdirtests/98892001/CT5N/2062", "dicomdirtests/98892001/CT5N/2392", "dicomdirtests/98892001/CT5N/2693",
    "dicomdirtests/98892001/CT5N/3023", "dicomdirtests/98892001/CT5N/3353", "dicomdirtests/98892003/MR1/15820",
    "dicomdirtests/98892003/MR1/4919", "dicomdirtests/98892003/MR1/5641", "dicomdirtests/98892003/MR2/15970",
    "dicomdirtests/98892003/MR2/4950", "dicomdirtests/98892003/MR2/4981", "dicomdirtests/98892003/MR2/5011",
    "dicomdirtests/98892003/MR2/6273", "dicomdirtests/98892003/MR2/6605", "dicomdirtests/98892003/MR2/6935",
    "dicomdirtests/98892003/MR700/4467", "dicomdirtests/98892003/MR700/4528", "dicomdirtests/98892003/MR700/4558",
    "dicomdirtests/98892003/MR700/4588", "dicomdirtests/98892003/MR700/4618", "dicomdirtests/98892003/MR700/4648",
    "dicomdirtests/98892003/MR700/4678", "eCT_Supplemental.dcm", "emri_small.dcm", "emri_small_RLE.dcm",
    "emri_small_big_endian.dcm", "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm",
    "examples_overlay.dcm", "explicit_VR-UN.dcm", "image_dfl.dcm", "liver.dcm", "liver_1frame.dcm", "liver_expb.dcm",
    "liver_expb_1frame.dcm", "mlut_18.dcm", "rtdose.dcm", "rtdose_1frame.dcm", "rtdose_expb.dcm",
    "rtdose_expb_1frame.dcm", "rtdose_rle.dcm", "rtdose_rle_1frame.dcm", "vlut_04.dcm",
)  # fmt: skip

# Image files that medinpaint cannot handle, with the reason and the error it must give instead.
UNSUPPORTED = {
    # pydicom cannot decode their pixel data either
    "JPEG-lossy.dcm": ("12-bit JPEG Extended stream that libjpeg rejects", r"pixel data of DICOM JPEG-lossy\.dcm \(JPEG Extended.*could not be decoded \(.*misplaced marker"),
    "JPEG2000-embedded-sequence-delimiter.dcm": ("J2K header unreadable", r"could not be decoded \(.*failed to read the header"),
    "MR_truncated.dcm": ("native pixel data cut short", r"could not be decoded \(The number of bytes of pixel data is less than expected"),
    "emri_small_jpeg_2k_lossless_too_short.dcm": ("JPEG 2000 stream cut short", r"could not be decoded \(End of file reached before delimiter \(FFFE,E0DD\).*the file is truncated"),
    "badVR.dcm": ("Rows holds '1A'", r"could not be decoded \(invalid literal for int\(\) with base 10: '1A'\)"),
    "nested_priv_SQ.dcm": ("no BitsAllocated", r"could not be decoded \(Missing required element: \(0028,0100\) 'Bits Allocated'\)"),
    "meta_missing_tsyntax.dcm": ("no TransferSyntaxUID", r"could not be decoded \(.*has no \(0002,0010\) 'Transfer Syntax UID'"),
    # datasets without the file meta header, so without a transfer syntax: pydicom refuses them too
    "no_meta.dcm": ("no file meta", r"no_meta\.dcm is not a DICOM file \(no 'DICM' file meta header\)"),
    # no image at all
    "rtplan.dcm": ("RT Plan, no pixel data", r"rtplan\.dcm holds no pixel data \(SOP class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.481\.5\)"),
}  # fmt: skip

# dciodvfy flags these Enhanced MR attributes once Image Type value 1 is DERIVED, but PS3.3
# C.8.13.4 / C.7.6.18.2 say "Required if Image Type Value 1 is ORIGINAL or MIXED. May be present
# otherwise": keeping the acquisition description of a derived image is valid.
DERIVED_CONDITION_FALSE_POSITIVE = re.compile(
    r"Attribute present when condition unsatisfied \(which may not be present otherwise\) Type 1C Conditional "
    r"Element=<\w+> Module=<(MRPulseSequence|BulkMotionSynchronization)>"
)


@lru_cache(maxsize=1)
def corpus() -> dict[str, Path]:
    """Every file of pydicom's test files and pydicom-data, by path under its data folder."""
    files = {}
    for name in get_testdata_files():
        path = Path(name)
        for root in ("test_files", "data"):
            if root in path.parts:
                index = len(path.parts) - 1 - path.parts[::-1].index(root)
                files["/".join(path.parts[index + 1 :])] = path
                break
    return files


def corpus_file(name: str) -> Path:
    if name not in corpus():
        pytest.fail(f"{name} is not among pydicom's test files or pydicom-data: update the corpus lists")
    return corpus()[name]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Small seeded CT and MR models: a CT input gets the CT model, every other modality the MR one."""
    folder = tmp_path_factory.mktemp("checkpoints")
    return {"CT": tiny_checkpoint(folder / "ct.pt", "ct", 1), "other": tiny_checkpoint(folder / "mri.pt", "brain_mri", 1)}


def dciodvfy_errors(path: Path) -> set[str]:
    """dciodvfy's error lines for ``path``, UIDs normalised (they must differ)."""
    report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (report.stdout + report.stderr).splitlines()
    return {re.sub(r"\d+(\.\d+){3,}", "<UID>", line.strip()) for line in lines if "Error - " in line}


def input_errors(path: Path, tmp_path: Path) -> set[str]:
    """The input's own errors; for a file that dciodvfy cannot parse (deflated), those of the same
    dataset re-encoded by pydicom as Explicit VR Little Endian, nothing else changed."""
    errors = dciodvfy_errors(path)
    if not any("Dicom dataset read failed" in line for line in errors):
        return errors
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plain = tmp_path / "input-explicit-little.dcm"
    pydicom.dcmwrite(plain, ds, enforce_file_format=True)
    return dciodvfy_errors(plain)


@pytest.mark.slow
@pytest.mark.parametrize("name", GREYSCALE)
def test_greyscale_dicom_is_inpainted_into_a_valid_derived_dicom(name, tmp_path, checkpoints):
    source = corpus_file(name)
    original = pydicom.dcmread(source)
    out = tmp_path / "filled.dcm"
    checkpoint = checkpoints["CT" if original.get("Modality") == "CT" else "other"]
    mask = LARGE_IMAGE_MASK if max(original.Rows, original.Columns) > 1024 else MASK
    result = runner.invoke(
        app, ["inpaint", "-i", str(source), "-m", mask, "-o", str(out), "--checkpoint", str(checkpoint), *SEARCH]
    )
    assert result.exit_code == 0, result.output
    derived = pydicom.dcmread(out)
    assert derived.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    before, after = original.pixel_array, derived.pixel_array
    assert after.shape == before.shape
    assert (after.dtype.kind, after.dtype.itemsize) == (before.dtype.kind, before.dtype.itemsize)
    # the mask on the derived file's geometry (the input's, shape checked above): uncompressed, so not a
    # third decode of a JPEG 2000 input
    known = native_known_mask(mask, load_slices(out, domain="mri"))[:, 0].numpy().reshape(before.shape) > 0.5
    assert (~known).any()
    assert np.array_equal(after[known], before[known])  # bit-identical outside the hole
    assert derived.SOPInstanceUID != original.get("SOPInstanceUID")
    assert derived.file_meta.MediaStorageSOPInstanceUID == derived.SOPInstanceUID
    assert derived.SeriesInstanceUID != original.get("SeriesInstanceUID")
    assert derived.ImageType[0] == "DERIVED"
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed: the other checks passed")
    new_errors = dciodvfy_errors(out) - input_errors(source, tmp_path)
    assert {e for e in new_errors if not DERIVED_CONDITION_FALSE_POSITIVE.search(e)} == set()


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_dicom_gives_one_clear_error_line(name, tmp_path):
    out = tmp_path / "filled.dcm"
    result = runner.invoke(app, ["inpaint", "-i", str(corpus_file(name)), "-m", MASK, "-o", str(out), *SEARCH])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert re.search(UNSUPPORTED[name][1], lines[0]), lines[0]
    assert not out.exists()


@pytest.fixture()
def warnings_on_stderr(monkeypatch):
    """Warnings shown as Python shows them on a user's terminal (outside pytest's capture)."""

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(warnings, "showwarning", show)


def test_a_refused_dicom_prints_its_error_line_alone(tmp_path, warnings_on_stderr):
    """pydicom warns about badVR.dcm's Rows '1A' before it is refused: the one error line comes alone."""
    out = tmp_path / "filled.dcm"
    result = runner.invoke(app, ["inpaint", "-i", str(corpus_file("badVR.dcm")), "-m", MASK, "-o", str(out), *SEARCH])
    assert result.exit_code == 2
    assert result.output.splitlines() == [result.output.strip()] and result.output.startswith("error: "), result.output
    assert not out.exists()


def test_library_warnings_of_a_run_come_as_warning_lines(tmp_path, checkpoints, warnings_on_stderr):
    """bad_sequence.dcm holds UIDs that pydicom warns about, and is filled: each warning once, as one line."""
    arguments = ["-m", MASK, "-o", str(tmp_path / "filled.dcm"), "--checkpoint", str(checkpoints["CT"]), *SEARCH]
    result = runner.invoke(app, ["inpaint", "-i", str(corpus_file("bad_sequence.dcm")), *arguments])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "Invalid value for VR UI" in line]
    assert warned and all(line.startswith("warning: Invalid value for VR UI") for line in warned)
    assert len(warned) == len(set(warned)) and "UserWarning" not in result.output


@pytest.mark.slow
def test_corpus_lists_are_complete():
    """Every greyscale image of the corpus that pydicom decodes is in GREYSCALE or UNSUPPORTED."""
    decodable = set()
    for name, path in corpus().items():
        if not path.is_file() or not pydicom.misc.is_dicom(str(path)):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            if not str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME"):
                continue
            try:
                ds.pixel_array
            except Exception:  # pydicom cannot decode it: covered by UNSUPPORTED where it is an image
                continue
        decodable.add(name)
    assert decodable - set(GREYSCALE) - set(UNSUPPORTED) == set()
    assert set(GREYSCALE) <= decodable


def test_big_endian_input_gives_the_same_little_endian_file_as_its_twin(tmp_path):
    """MR_small_bigendian.dcm is MR_small.dcm stored big-endian: both give the same pixels and values."""
    written = {}
    for name in ("MR_small.dcm", "MR_small_bigendian.dcm"):
        loaded = load_slices(corpus_file(name))
        result = loaded.native.clone()
        result[..., 20:30, 20:30] = 500.0
        written[name] = pydicom.dcmread(save_like(loaded, result, tmp_path / name, description="test"))
    little, big = written["MR_small.dcm"], written["MR_small_bigendian.dcm"]
    assert big.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(big.pixel_array, little.pixel_array) and big.pixel_array.dtype == np.dtype("<i2")
    assert big.PixelData == little.PixelData
    for keyword in ("Rows", "PixelSpacing", "WindowCenter", "SliceLocation", "ImagePositionPatient"):
        assert big.get(keyword) == little.get(keyword)


def test_big_endian_binary_values_are_byte_swapped(tmp_path):
    """OW palette tables of a big-endian file come out as in its little-endian twin."""
    written = {}
    for name in ("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"):
        loaded = load_slices(corpus_file(name), domain="mri")
        written[name] = pydicom.dcmread(save_like(loaded, loaded.native, tmp_path / name, description="test"))
    little, big = written["OBXXXX1A.dcm"], written["OBXXXX1A_expb.dcm"]
    for keyword in ("RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData", "PixelData"):
        assert big[keyword].value == little[keyword].value, keyword


def test_truncated_jpeg2000_names_the_decoding_failure(tmp_path):
    """A JPEG 2000 file cut inside its pixel data: the error says why, not "holds no pixel data"."""
    source = corpus_file("MR_small_jp2klossless.dcm")
    data = source.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: data.index(b"\xe0\x7f\x10\x00") + 400])  # 400 bytes into (7FE0,0010)
    with pytest.raises(MedinpaintError, match=r"pixel data of DICOM cut\.dcm could not be decoded \(End of file reached before delimiter \(FFFE,E0DD\)"):
        read_dicom(cut)


def test_a_palette_colour_image_is_refused_with_the_way_out(tmp_path):
    """OBXXXX1A.dcm (ultrasound, PALETTE COLOR): its pixels index a colour table; a fill between indices
    would write colours from anywhere in the table, so it gets one error line naming the conversion."""
    out = tmp_path / "filled.dcm"
    result = runner.invoke(app, ["inpaint", "-i", str(corpus_file("OBXXXX1A.dcm")), "-m", MASK, "-o", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert result.output.strip() == (
        "error: OBXXXX1A.dcm is PALETTE COLOR: its pixels are indices into a colour table, not intensities, so no fill between "
        "them means anything: convert it to RGB (pydicom.pixels.apply_color_lut) or give a greyscale image"
    )
