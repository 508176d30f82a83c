"""``python -m medinpaint.training``: the ``medinpaint train`` command, for ``torchrun``.

Example: ``torchrun --standalone --nproc_per_node 2 -m medinpaint.training --config brain_mri
--set steps=100 --out-dir runs/ddp``. Options are those of ``medinpaint train --help``.
"""

import sys

from medinpaint.cli import app

if __name__ == "__main__":
    app(args=["train", *sys.argv[1:]], prog_name="python -m medinpaint.training")
