"""Benchmark: the 3-D biharmonic fill by conjugate gradients against scikit-image's sparse LU.

Holes: balls of radius ``--radii`` voxels in the embedded template (centre (90, 110, 60), tissue
and ventricles; values 0–255), and gaps of ``--gaps`` whole axial slices from z = 110 (holes that
reach the volume's border on four sides), solved on the hole's box + 3 voxels as
:func:`medinpaint.inpainting.biharmonic3d.biharmonic_fill_3d` does. For each: the unknowns,
seconds for medinpaint's fill (conjugate gradients, multigrid-preconditioned from
``PRECONDITIONED_FROM`` unknowns), for plain conjugate gradients (the same call with
``--plain-up-to`` as the module's ``PRECONDITIONED_FROM``: before the preconditioner; only up to that
many unknowns) and for ``skimage.restoration.inpaint_biharmonic`` on the same box (only up to
``--reference-up-to`` unknowns: its LU grows about as n^2.7), and the largest differences from
medinpaint's fill in the hole.

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_biharmonic_3d.py``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from skimage.restoration import inpaint_biharmonic

from medinpaint.data.sample import sample_volume
from medinpaint.inpainting import biharmonic3d
from medinpaint.inpainting.biharmonic3d import BIHARMONIC_MARGIN, biharmonic_fill_3d
from medinpaint.inpainting.poisson3d import hole_box

CENTRE = (90, 110, 60)
GAP_START = 110


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--radii", default="12,18,24,30,40", help="comma-separated ball radii (voxels)")
    parser.add_argument("--gaps", default="1,2,4", help="comma-separated widths of gaps of whole axial slices")
    parser.add_argument("--reference-up-to", type=int, default=30000, help="run scikit-image only on holes up to this many voxels")
    parser.add_argument("--plain-up-to", type=int, default=120000, help="run plain conjugate gradients only on holes up to this many voxels")
    args = parser.parse_args()
    volume = sample_volume()[0].astype(np.float64)
    grid = np.indices(volume.shape)
    holes = {f"ball, radius {r}": sum((grid[a] - CENTRE[a]) ** 2 for a in range(3)) <= r**2 for r in (int(v) for v in args.radii.split(","))}
    holes |= {f"{w} whole axial slice(s)": (grid[2] >= GAP_START) & (grid[2] < GAP_START + w) for w in (int(v) for v in args.gaps.split(","))}
    print("| hole (voxels) | unknowns | medinpaint (s) | plain CG (s) | its largest difference | scikit-image (s) | its largest difference |\n|---|---|---|---|---|---|---|")
    preconditioned_from = biharmonic3d.PRECONDITIONED_FROM
    for name, hole in holes.items():
        started = time.perf_counter()
        filled = biharmonic_fill_3d(volume, (~hole).astype(np.float32))
        seconds = time.perf_counter() - started
        plain, plain_difference = "not run", "–"
        if hole.sum() <= args.plain_up_to:
            biharmonic3d.PRECONDITIONED_FROM = args.plain_up_to + 1
            started = time.perf_counter()
            unpreconditioned = biharmonic_fill_3d(volume, (~hole).astype(np.float32))
            plain = f"{time.perf_counter() - started:.2f}"
            biharmonic3d.PRECONDITIONED_FROM = preconditioned_from
            plain_difference = f"{np.abs(unpreconditioned[hole] - filled[hole]).max():.1e}"
        reference, difference = "not run", "–"
        if hole.sum() <= args.reference_up_to:
            box = hole_box(hole, margin=BIHARMONIC_MARGIN)
            started = time.perf_counter()
            scikit = inpaint_biharmonic(np.where(hole[box], 0.0, volume[box]), hole[box])
            reference = f"{time.perf_counter() - started:.2f}"
            difference = f"{np.abs(filled[box][hole[box]] - scikit[hole[box]]).max():.1e}"
        print(f"| {name} | {int(hole.sum())} | {seconds:.2f} | {plain} | {plain_difference} | {reference} | {difference} |", flush=True)

if __name__ == "__main__":
    main()
