"""DistributedDataParallel: two gloo CPU processes under torchrun train one model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medinpaint.checkpoint import load_models
from medinpaint.training import parameter_digest


@pytest.mark.slow
def test_two_process_gloo_run_keeps_ranks_in_sync(tmp_path: Path):
    out_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "medinpaint", "train", "--config", "brain_mri", "--out-dir", str(out_dir), "--no-progress",
        "--set", "ngf=8", "--set", "ndf=8", "--set", "batch_size=8", "--set", "steps=3", "--set", "device=cpu",
        "--set", "window_count=64",  # the default prior draws 40 000 augmented windows on each rank
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d) generator parameters sha256 ([0-9a-f]{64})", run.stderr))
    assert set(digests) == {"0", "1"}
    final = out_dir / "checkpoints" / "step0000003.pt"
    assert final.is_file() and str(final) in run.stdout
    # the weights rank 0 saved are the weights both ranks ended with
    saved = parameter_digest(load_models(final, device="cpu").generator)
    assert digests["0"] == digests["1"] == saved
    # 2 ranks x 8 images x 3 steps: each step's losses are averaged over the ranks and logged once
    assert len((out_dir / "losses.csv").read_text().splitlines()) == 1 + 3
