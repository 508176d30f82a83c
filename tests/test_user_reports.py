"""What a new user of 0.1.0 ran into (issue 11, part 5), each checked through the command line."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pydicom
import pytest
import typer
from typer.testing import CliRunner

from conftest import dicom_test_file
from medinpaint.cli import MASK_HELP, app
from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError
from medinpaint.metrics.nrqm import NrqmModel
from medinpaint.pipeline import check_output_suffix
from test_file_inpainting import tiny_checkpoint
from test_experiments_celeba import celeba_folder  # noqa: F401 (a fixture)
from test_metrics_nrqm import _write_reference_mat

runner = CliRunner()
TINY_SEARCH = ["--iterations", "3", "--restarts", "1"]


@pytest.fixture(scope="module")
def mri_checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "mri.pt", "brain_mri", 1)


def one_error_line(result, *fragments: str) -> str:
    """The CLI ended with exit status 2 and exactly one ``error:`` line holding every fragment."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def flat_help(*command: str) -> str:
    return " ".join(runner.invoke(app, [*command, "--help"]).output.replace("│", " ").split())


@pytest.mark.parametrize("name", ["rtdose.dcm", "MR_small_bigendian.dcm"])
def test_32_bit_and_big_endian_dicom_are_inpainted(name, tmp_path, mri_checkpoint):
    source, out = dicom_test_file(name), tmp_path / "filled.dcm"
    args = ["inpaint", "-i", str(source), "-m", "quarter", "-o", str(out), "--checkpoint", str(mri_checkpoint)]
    result = runner.invoke(app, [*args, *TINY_SEARCH])
    assert result.exit_code == 0, result.output
    before, after = pydicom.dcmread(source).pixel_array, pydicom.dcmread(out).pixel_array
    assert after.shape == before.shape and after.dtype == before.dtype.newbyteorder("<")
    assert not np.array_equal(after, before)


def test_unknown_device_is_one_error_line(tmp_path):
    result = runner.invoke(app, ["inpaint", "-i", str(dicom_test_file("CT_small.dcm")), "-m", "quarter",
                                 "-o", str(tmp_path / "out.dcm"), "--device", "tpu"])  # fmt: skip
    one_error_line(result, "unknown device 'tpu'", "--device auto, cpu, cuda or cuda:N")
    assert not (tmp_path / "out.dcm").exists()


@pytest.mark.parametrize("content", [b"", b"MATLAB 5.0 MAT-file" + bytes(200), None], ids=["empty", "garbage", "truncated"])
def test_damaged_nrqm_model_is_a_clear_error(content, tmp_path):
    path = tmp_path / "model.mat"
    if content is None:
        _write_reference_mat(path, np.random.default_rng(0))
        content = path.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(MedinpaintError, match=r"NRQM model .*model\.mat cannot be read as a MATLAB file .*download model\.mat again"):
        NrqmModel.load(path)


@pytest.mark.parametrize("output", ["out.png", "out.nii.gz", "out.jpg"])
def test_dicom_input_refuses_an_output_of_another_format(output):
    with pytest.raises(MedinpaintError, match=rf"output {re.escape(output)} names another format .* name it e\.g\. out\.dcm"):
        check_output_suffix(dicom_test_file("CT_small.dcm"), output)
    check_output_suffix(dicom_test_file("CT_small.dcm"), "out")  # DICOM names often have no suffix


def test_dicom_input_with_png_output_fails_before_any_work(tmp_path):
    # a missing checkpoint would be the error if the suffix were checked only when writing
    result = runner.invoke(app, ["inpaint", "-i", str(dicom_test_file("CT_small.dcm")), "-m", "quarter",
                                 "-o", str(tmp_path / "out.png"), "--checkpoint", str(tmp_path / "none.pt")])  # fmt: skip
    one_error_line(result, "output out.png names another format")
    assert not (tmp_path / "out.png").exists()


def test_checkpoint_folder_is_named_a_folder(tmp_path, mri_checkpoint):
    result = runner.invoke(app, ["inpaint", "-i", str(dicom_test_file("CT_small.dcm")), "-m", "quarter",
                                 "-o", str(tmp_path / "out.dcm"), "--checkpoint", str(mri_checkpoint.parent)])  # fmt: skip
    one_error_line(result, f"checkpoint {mri_checkpoint.parent} is a folder: give one .pt file, e.g. {mri_checkpoint}")


def test_demo_with_no_slices_names_its_option(tmp_path):
    one_error_line(runner.invoke(app, ["demo", "--out-dir", str(tmp_path), "--n-slices", "0"]), "--n-slices")


def test_celeba_with_a_missing_folder_names_the_option(tmp_path):
    result = runner.invoke(app, ["reproduce", "celeba", "--data", str(tmp_path / "nosuch"), "--out-dir", str(tmp_path)])
    one_error_line(result, "nosuch does not exist: fix --data")
    assert list(tmp_path.iterdir()) == []


def all_cli_options() -> set[str]:
    """Every option name of every command, from the click command tree typer builds."""

    def walk(command) -> set[str]:
        names = {name for param in command.params for name in (*param.opts, *getattr(param, "secondary_opts", ())) if name.startswith("--")}
        for sub in getattr(command, "commands", {}).values():
            names |= walk(sub)
        return names

    return walk(typer.main.get_command(app))


def test_hints_name_only_options_that_exist():
    """Every ``--flag`` written in the package's messages and docstrings is an option of the CLI."""
    package = Path(__file__).parents[1] / "medinpaint"
    text = "\n".join(path.read_text() for path in package.rglob("*.py"))
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])", text))
    not_ours = {"--nproc", "--standalone"}  # torchrun's own options, in the training docs
    assert named - all_cli_options() - not_ours - {"--help"} == set()


def test_help_describes_what_is_written_and_what_is_optional():
    inpaint = flat_help("inpaint")
    assert "input | mask | raw (G(z), or the network fill) | result | uncertainty" in inpaint
    assert "NIfTI slices (along --axis) or DICOM frames" in inpaint
    for spec in ("box:SIZE", "centre[:MAX]", "random-box[:MAX]", "dropout[:RATE]", "half[:left|right|top|bottom]", "pattern[:PERIOD]"):
        assert spec in MASK_HELP
    assert "from 8..MAX, default 32" in MASK_HELP and "lines every PERIOD pixels" in MASK_HELP
    train = flat_help("train")
    assert all(field.name in train for field in dataclasses.fields(TrainConfig))
    assert "--iterations" in flat_help("demo")


def rerun(config_path: Path) -> Path:
    """Run the command saved in a results folder's config.json; return the new results folder."""
    command = json.loads(config_path.read_text())["command"]
    words = shlex.split(command)
    assert words[0] == "medinpaint"
    before = set(config_path.parent.parent.iterdir())
    result = runner.invoke(app, words[1:])
    assert result.exit_code == 0, result.output
    (new,) = set(config_path.parent.parent.iterdir()) - before
    return new


def metrics(run_dir: Path) -> list[tuple]:
    rows = json.loads((run_dir / "metrics.json").read_text())
    return [tuple(sorted((k, v) for k, v in row.items() if k != "value")) + (row["value"],) for row in rows if row["metric"] != "seconds"]


def run_and_rerun(args: list[str], out_dir: Path) -> tuple[dict, Path, Path]:
    result = runner.invoke(app, [*args, "--out-dir", str(out_dir)])
    assert result.exit_code == 0, result.output
    (first,) = out_dir.iterdir()
    second = rerun(first / "config.json")
    assert metrics(first), "the run wrote no metric"
    return json.loads((first / "config.json").read_text()), first, second


def test_dropout_rerun_command_reproduces_the_run(tmp_path, mri_checkpoint):
    nrqm = tmp_path / "model.mat"
    _write_reference_mat(nrqm, np.random.default_rng(0))
    args = ["experiment", "dropout", "--rates", "0.5", "--checkpoint", str(mri_checkpoint), "--n-images", "1",
            "--iterations", "2", "--nrqm-model", str(nrqm), "--seed", "3"]  # fmt: skip
    config, first, second = run_and_rerun(args, tmp_path / "runs")
    for option in ("--n-images 1", "--iterations 2", f"--nrqm-model {nrqm}", "--seed 3", f"--checkpoint {mri_checkpoint}"):
        assert option in config["command"]
    assert metrics(first) == metrics(second)
    assert any(row[-1] is not None for row in metrics(first) if ("metric", "nrqm") in row)


def test_demo_rerun_command_reproduces_the_run(tmp_path, mri_checkpoint):
    args = ["demo", "--n-slices", "1", "--checkpoint", str(mri_checkpoint), "--iterations", "2", "--seed", "1"]
    config, first, second = run_and_rerun(args, tmp_path / "runs")
    assert config["search"]["iterations"] == 2  # --iterations reaches the search
    for option in ("--n-slices 1", f"--checkpoint {mri_checkpoint}", "--iterations 2"):
        assert option in config["command"]
    assert metrics(first) == metrics(second)


def test_celeba_rerun_command_reproduces_the_run(tmp_path, celeba_folder):
    photo = tiny_checkpoint(tmp_path / "photo.pt", "celeba", 3)
    args = ["reproduce", "celeba", "--data", str(celeba_folder), "--checkpoint", str(photo), "--n-images", "1",
            "--iterations", "2"]  # fmt: skip
    config, first, second = run_and_rerun(args, tmp_path / "runs")
    for option in ("--n-images 1", "--iterations 2", f"--checkpoint {photo}"):
        assert option in config["command"]
    assert metrics(first) == metrics(second)
