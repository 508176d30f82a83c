"""``python -m medinpaint.training`` (or under ``torchrun ... -m medinpaint.training``).

Example: ``torchrun --nproc_per_node 2 -m medinpaint.training --config brain_mri --set steps=100
--out-dir runs/ddp``. Errors print one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from medinpaint.config import parse_override
from medinpaint.errors import MedinpaintError
from medinpaint.training import run_training


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and train; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m medinpaint.training", description="Train a DCGAN.")
    parser.add_argument("--config", required=True, help="YAML file or shipped name (brain_mri, celeba, ct, folder)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--out-dir", required=True, help="run folder")
    parser.add_argument("--resume", default=None, help="checkpoint to continue from")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        overrides = dict(parse_override(text) for text in args.set)
        final = run_training(args.config, overrides, args.out_dir, args.resume, progress=not args.no_progress)
    except MedinpaintError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
