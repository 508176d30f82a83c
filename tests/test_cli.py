"""The command line: help texts, one error line with exit status 2, and a real inpaint run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from nibabel.testing import data_path as nibabel_data
from typer.testing import CliRunner

from conftest import dicom_test_file
from medinpaint import __version__
from medinpaint.cli import app
from medinpaint.pipeline import load_slices
from test_file_inpainting import tiny_checkpoint

runner = CliRunner()


def test_help_lists_every_command_and_the_mask_convention():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "inpaint", "demo", "experiment", "reproduce"):
        assert command in result.output
    inpaint_help = " ".join(runner.invoke(app, ["inpaint", "--help"]).output.replace("│", " ").split())
    assert "NONZERO marks the region to fill" in inpaint_help and "1 = known, 0 = missing" in inpaint_help
    for group, sub in (("experiment", "dropout"), ("reproduce", "celeba")):
        assert sub in runner.invoke(app, [group, "--help"]).output


def test_help_does_not_import_torch():
    code = "import sys; from medinpaint.cli import app; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_version():
    assert runner.invoke(app, ["--version"]).output.strip() == f"medinpaint {__version__}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--input", "no/such/file.dcm", "--mask", "quarter", "--output", "out.dcm"], "no/such/file.dcm does not exist"),
        (["--input", "{ct}", "--mask", "qarter", "--output", "out.dcm"], "did you mean 'quarter'"),
        (["--input", "{ct}", "--mask", "quarter", "--output", "out.dcm", "--slices", "a-b"], "is not a list like"),
    ],
)
def test_bad_input_gives_one_error_line(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    arguments = [a.replace("{ct}", str(dicom_test_file("CT_small.dcm"))) for a in arguments]
    result = runner.invoke(app, ["inpaint", *arguments])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out.dcm").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("row_major.dconn.nii", "row_major.dconn.nii is a CIFTI-2 file (data on brain coordinates, not an image grid): give a NIfTI image"),
        ("analyze.hdr", "analyze.hdr is an Analyze 7.5 (SPM2) image, not NIfTI: convert it first"),
        ("test.mgz", "test.mgz is a FreeSurfer MGH image, not NIfTI: convert it first"),
        ("minc1_1_scale.mnc", "minc1_1_scale.mnc is a MINC 1 image, not NIfTI"),
        ("nifti1.hdr", "NIfTI header nifti1.hdr has no image file nifti1.img beside it"),
    ],
)
def test_volume_files_that_are_not_nifti_get_one_error_line(tmp_path, name, message):
    """nibabel's test data: formats it reads that medinpaint does not fill, and a pair's header alone."""
    result = runner.invoke(app, ["inpaint", "-i", os.path.join(nibabel_data, name), "-m", "box:16", "-o", str(tmp_path / "out.nii.gz")])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert not (tmp_path / "out.nii.gz").exists()


def test_the_conversion_an_error_gives_makes_a_nifti_that_is_read(tmp_path, monkeypatch):
    shutil.copy(os.path.join(nibabel_data, "test.mgz"), tmp_path)
    monkeypatch.chdir(tmp_path)
    output = runner.invoke(app, ["inpaint", "-i", "test.mgz", "-m", "box:16", "-o", "out.nii.gz"]).output
    subprocess.run([sys.executable, "-c", re.search(r'python -c "(.*)"', output).group(1)], check=True, cwd=tmp_path)
    assert load_slices(tmp_path / "test.nii.gz").native.shape[2:] == (4, 3)


def test_inpaint_command_writes_a_derived_dicom(tmp_path):
    checkpoint = tiny_checkpoint(tmp_path / "ct.pt", "ct", 1)
    source = dicom_test_file("CT_small.dcm")
    result = runner.invoke(
        app,
        ["inpaint", "-i", str(source), "-m", "box:20", "-o", str(tmp_path / "out.dcm"), "--checkpoint", str(checkpoint),
         "--iterations", "10", "--restarts", "1", "--panel", str(tmp_path / "panel.png")],
    )
    assert result.exit_code == 0, result.output
    assert "filled 1 slice(s)" in result.output and "slice  missing px  iterations  loss" in result.output  # the search's
    out, original = pydicom.dcmread(tmp_path / "out.dcm"), pydicom.dcmread(source)
    assert out.Rows == original.Rows and "DERIVED" in out.ImageType
    assert np.array_equal(out.pixel_array[:40], original.pixel_array[:40])
    assert (tmp_path / "panel.png").stat().st_size > 1000


def test_cli_reference_in_docs_is_current(tmp_path):
    """docs/cli.md is generated from the CLI: regenerate it with the command in its first line."""
    from pathlib import Path

    generated = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "medinpaint.cli", "utils", "docs", "--name", "medinpaint", "--output", str(generated)],
        check=True, capture_output=True,
    )
    committed = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    assert committed == generated.read_text(), "docs/cli.md is stale: run python -m typer medinpaint.cli utils docs --name medinpaint --output docs/cli.md"


@pytest.mark.slow
def test_demo_command_writes_table_csv_and_figure(tmp_path):
    result = runner.invoke(app, ["demo", "--out-dir", str(tmp_path), "--n-slices", "1", "--iterations", "5"])
    assert result.exit_code == 0, result.output
    folder = next(tmp_path.glob("demo-*"))
    assert {"config.json", "metrics.csv", "metrics.json"} <= {p.name for p in folder.iterdir()}
    assert any(p.suffix == ".png" for p in folder.iterdir())
    assert "medinpaint" in result.output and "biharmonic" in result.output
