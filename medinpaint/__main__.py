"""``python -m medinpaint``: the ``medinpaint`` command line, also for ``torchrun``.

Example: ``torchrun --standalone --nproc_per_node 2 -m medinpaint inpaint-many --table pairs.csv
--out-dir filled``.
"""

from medinpaint.cli import app

if __name__ == "__main__":
    app(prog_name="medinpaint")
