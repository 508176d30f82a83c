"""DCGAN training: config → data → DDP-ready loop → checkpoints, samples and losses.

``run_training`` is what ``medinpaint train`` calls; under ``torchrun`` the entry is
``python -m medinpaint train ...`` (``torchrun --nproc_per_node N -m medinpaint train ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medinpaint.config import TrainConfig
from medinpaint.training.loop import build_networks, parameter_digest, train

__all__ = ["build_networks", "parameter_digest", "run_training", "train"]


def run_training(
    config_path_or_name: str | Path,
    overrides: Mapping[str, Any] | None,
    out_dir: str | Path,
    resume: str | Path | None = None,
    *,
    progress: bool = True,
) -> Path:
    """Load a config (file or shipped name), apply overrides and train.

    Args:
        config_path_or_name: YAML path or a shipped name (``brain_mri``, ``celeba``, ``ct``, ``folder``).
        overrides: key → value, e.g. ``{"epochs": 5}`` (strings are parsed as YAML scalars).
        out_dir: run folder.
        resume: checkpoint to continue from.
        progress: show the progress bar.

    Returns:
        The final checkpoint path.

    Raises:
        MedinpaintError: bad config, data, out_dir or resume checkpoint.
    """
    config = TrainConfig.from_yaml(config_path_or_name, overrides)
    return train(config, resume=None if resume is None else Path(resume), out_dir=Path(out_dir), progress=progress)
