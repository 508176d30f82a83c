"""inpaint-many on real NIfTI files: report rows, a broken pair that does not stop the others, resume, torchrun."""

from __future__ import annotations

import csv
import inspect
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.data.sample import sample_path
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.many import inpaint_many, read_pairs

FAST = ["--iterations", "5", "--restarts", "1", "--device", "cpu", "--no-progress"]
runner = CliRunner()


@pytest.fixture()
def cohort(tmp_path, monkeypatch) -> Path:
    """Two subjects whose T1 files share a name (crops of the embedded MNI152), and a broken pair."""
    monkeypatch.chdir(tmp_path)
    sample = nib.load(sample_path())
    for subject, corner in (("sub-01", 70), ("sub-02", 60)):
        Path(subject).mkdir()
        crop = sample.slicer[corner : corner + 50, 80:140, 90:92]
        nib.save(crop, f"{subject}/t1.nii.gz")
        lesion = np.zeros(crop.shape, np.uint8)
        lesion[15:30, 20:35, 1] = 1
        nib.save(nib.Nifti1Image(lesion, crop.affine), f"{subject}/lesion.nii.gz")
    nib.save(nib.Nifti1Image(np.ones((7, 7, 2), np.uint8), sample.affine), "sub-02/wrong_size.nii.gz")
    table = tmp_path / "pairs.csv"
    table.write_text(
        "input,mask\n"
        "sub-01/t1.nii.gz,sub-01/lesion.nii.gz\n"
        "sub-02/t1.nii.gz,sub-02/wrong_size.nii.gz\n"
        "sub-02/t1.nii.gz,box:16\n"
        "sub-03/t1.nii.gz,sub-03/lesion.nii.gz\n"
    )
    return table


def report_rows(out_dir: Path) -> list[dict]:
    with open(out_dir / "report.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def check_outputs(out_dir: Path) -> None:
    """The two good pairs' results: known voxels bit-identical, the lesion filled, as inpaint_file fills it."""
    first, original = nib.load(out_dir / "t1.nii.gz"), nib.load("sub-01/t1.nii.gz")
    lesion = np.asarray(nib.load("sub-01/lesion.nii.gz").dataobj) > 0
    assert np.allclose(first.affine, original.affine) and first.get_data_dtype() == original.get_data_dtype()
    before, after = np.asarray(original.dataobj), np.asarray(first.dataobj)
    assert np.array_equal(after[~lesion], before[~lesion]) and (after[lesion] != before[lesion]).mean() > 0.5
    alone = inpaint_file(
        "sub-01/t1.nii.gz", "sub-01/lesion.nii.gz", out_dir.parent / "alone.nii.gz",
        search=SearchConfig(iterations=5, restarts=1), device="cpu", progress=False,
    )  # fmt: skip
    assert np.array_equal(np.asarray(nib.load(alone.outputs["output"]).dataobj), after)
    assert nib.load(out_dir / "t1-3.nii.gz").shape == nib.load("sub-02/t1.nii.gz").shape


def test_table_with_a_broken_pair_reports_it_goes_on_and_resumes(cohort):
    result = runner.invoke(app, ["inpaint-many", "--table", str(cohort), "--out-dir", "filled", *FAST])
    assert result.exit_code == 1, result.output
    assert "4 pair(s): 2 ok, 2 failed, 0 skipped" in result.output
    rows = report_rows(Path("filled"))
    assert list(rows[0]) == ["input", "mask", "output", "status", "message", "seconds"]
    assert [(r["input"], r["output"], r["status"]) for r in rows] == [
        ("sub-01/t1.nii.gz", "filled/t1.nii.gz", "ok"),
        ("sub-02/t1.nii.gz", "filled/t1-2.nii.gz", "failed"),
        ("sub-02/t1.nii.gz", "filled/t1-3.nii.gz", "ok"),
        ("sub-03/t1.nii.gz", "filled/t1-4.nii.gz", "failed"),
    ]
    assert "wrong_size.nii.gz has shape (7, 7, 2)" in rows[1]["message"] and "\n" not in rows[1]["message"]
    assert rows[3]["message"] == "sub-03/t1.nii.gz does not exist: check the path"
    assert "filled 1 slice(s)" in rows[0]["message"] and "filled 2 slice(s)" in rows[2]["message"]
    assert float(rows[0]["seconds"]) > 0
    assert sorted(p.name for p in Path("filled").iterdir()) == ["report.csv", "t1-3.nii.gz", "t1.nii.gz"]
    written = (Path("filled") / "t1.nii.gz").stat().st_mtime_ns

    again = inpaint_many(cohort, "filled", search=SearchConfig(iterations=5, restarts=1), device="cpu", progress=False)
    assert [r.status for r in again] == ["skipped", "failed", "skipped", "failed"]
    assert [r["status"] for r in report_rows(Path("filled"))] == ["skipped", "failed", "skipped", "failed"]
    assert (Path("filled") / "t1.nii.gz").stat().st_mtime_ns == written


def test_results_are_those_of_inpaint_file(cohort):
    inpaint_many(cohort, "filled", search=SearchConfig(iterations=5, restarts=1), device="cpu", progress=False)
    check_outputs(Path("filled"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image,mask\na.nii.gz,quarter\n", "lacks column.* input .* the header must be input,mask"),
        ("input,mask\n", "has no rows"),
        ("input,mask,output\na.nii.gz,quarter,x.nii.gz\nb.nii.gz,quarter,x.nii.gz\n", "output x.nii.gz to more than one pair"),
        ("input,mask\na.nii.gz,\n", "line 2 has an empty input or mask"),
    ],
)
def test_bad_table_is_one_error_line_and_nothing_written(tmp_path, text, message):
    table = tmp_path / "pairs.csv"
    table.write_text(text)
    with pytest.raises(MedinpaintError, match=message):
        read_pairs(table, tmp_path / "out")
    result = runner.invoke(app, ["inpaint-many", "--table", str(table), "--out-dir", str(tmp_path / "out"), *FAST])
    assert result.exit_code == 2 and result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--blend", "poison"], "unknown blend method 'poison'"), (["--iterations", "0"], "iterations must be > 0")],
)
def test_bad_option_stops_before_any_pair(cohort, options, message):
    result = runner.invoke(app, ["inpaint-many", "--table", str(cohort), "--out-dir", "filled", *FAST, *options])
    assert result.exit_code == 2 and result.output.startswith("error: ") and message in result.output
    assert not Path("filled").exists()


def test_output_column_may_name_a_subfolder(cohort):
    cohort.write_text("input,mask,output\nsub-01/t1.nii.gz,sub-01/lesion.nii.gz,sub-01/t1_filled.nii.gz\n")
    rows = inpaint_many(cohort, "filled", search=SearchConfig(iterations=5, restarts=1), device="cpu", progress=False)
    assert [(r.status, r.output) for r in rows] == [("ok", "filled/sub-01/t1_filled.nii.gz")]
    assert Path("filled/sub-01/t1_filled.nii.gz").is_file()


@pytest.mark.slow
def test_two_gloo_processes_under_torchrun_merge_one_report(cohort):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "medinpaint", "inpaint-many", "--table", str(cohort), "--out-dir", "filled", *FAST,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode != 0 and "4 pair(s): 2 ok, 2 failed, 0 skipped" in run.stdout, run.stderr[-3000:]
    assert run.stdout.count("report: ") == 1  # rank 0 alone prints and writes
    rows = report_rows(Path("filled"))  # rank 0 took pairs 1 and 3, rank 1 pairs 2 and 4
    assert [r["status"] for r in rows] == ["ok", "failed", "ok", "failed"]
    assert "wrong_size.nii.gz has shape" in rows[1]["message"] and "does not exist" in rows[3]["message"]
    check_outputs(Path("filled"))


def test_every_option_of_inpaint_reaches_inpaint_file():
    """inpaint-many takes inpaint's options (one definition); each must arrive as an inpaint_file argument."""
    from medinpaint import cli, file_inpainting, many

    command = inspect.signature(cli.inpaint_many).parameters
    inpaint_options = set(inspect.signature(cli.inpaint).parameters) - set(cli.PER_PAIR_OPTIONS)
    assert inpaint_options <= set(command)
    defaults = {name: command[name].default.default for name in inpaint_options}
    accepted = set(inspect.signature(file_inpainting.inpaint_file).parameters) | set(inspect.signature(many.inpaint_many).parameters)
    assert set(cli.file_options(**defaults)) <= accepted


def test_a_pair_whose_header_says_other_anatomy_carries_the_note(tmp_path, monkeypatch):
    """A batch user sees the report's note too: emri_small (MR of the HEAD) saying KNEE is filled, and its
    row's message ends with the note; the same file as it is gets none."""
    from conftest import dicom_test_file

    monkeypatch.chdir(tmp_path)
    knee = pydicom.dcmread(dicom_test_file("emri_small.dcm"))
    knee.BodyPartExamined = "KNEE"
    knee.save_as("knee.dcm")
    Path("pairs.csv").write_text(f"input,mask\nknee.dcm,box:16\n{dicom_test_file('emri_small.dcm')},box:16\n")
    results = inpaint_many("pairs.csv", "filled", slices=[0], device="cpu", progress=False)
    assert [r.status for r in results] == ["ok", "ok"]
    assert results[0].message.startswith("knee.dcm: filled 1 slice(s)")
    assert "; note: knee.dcm says Modality MR, BodyPartExamined KNEE, and brain_mri_dcgan.pt learned brain MR" in results[0].message
    assert "note:" not in results[1].message
