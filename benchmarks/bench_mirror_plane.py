"""Benchmark: does the mirror-plane fit find the plane of a head turned in the scanner?

A subject scanned in its own space lies turned by some degrees and off centre; a normalised volume
(the real T1 in nibabel's test data is SPM-normalised) does not. This turns the real 2 mm T1 by
``--poses`` random rigid motions (``bench_brats_protocol.head_pose``: yaw and roll uniform in
±``--degrees``, a left-right move uniform in ±``--shift`` mm; seeded), fits the plane on each turned
volume with every voxel known, and compares it with the untouched volume's fitted plane turned and
moved the same way: the angle between the normals (degrees) and the distance between the planes
along the normal (mm). A fit fails when the angle exceeds 2° or the distance 2 mm. Also the
seconds per fit, and per fit of the 1 mm template (``--template-fits``).

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_mirror_plane.py``
Writes ``--out`` (default results/mirror_plane/): poses.csv, summary.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from bench_brats_protocol import head_pose, user_volume
from nibabel.testing import data_path as nibabel_data
from scipy.spatial.transform import Rotation

from medinpaint.data.sample import sample_volume
from medinpaint.inpainting.mirror_plane import MirrorPlane, fit_mirror_plane, left_right_axis

FAILED_DEGREES, FAILED_MM = 2.0, 2.0


def timed_fit(volume: np.ndarray, spacing, axis: np.ndarray) -> tuple[MirrorPlane, float]:
    """The plane fitted on ``volume`` with every voxel known, and the seconds it took."""
    start = time.perf_counter()
    plane = fit_mirror_plane(volume, np.ones(volume.shape), spacing, axis)
    return plane, time.perf_counter() - start


def plane_errors(found: MirrorPlane, normal: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """(degrees between ``found``'s normal and ``normal``, mm between the planes along ``normal``)."""
    cosine = float(found.normal @ normal)
    degrees = float(np.degrees(np.arccos(min(1.0, abs(cosine)))))
    return degrees, abs(np.sign(cosine) * float(found.normal @ found.point) - float(normal @ point))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", type=int, default=30)
    parser.add_argument("--degrees", type=float, default=15.0, help="largest yaw and roll")
    parser.add_argument("--shift", type=float, default=10.0, help="largest left-right move (mm)")
    parser.add_argument("--template-fits", type=int, default=3, help="fits of the 1 mm template, for their seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/mirror_plane"))
    args = parser.parse_args()
    volume, affine = user_volume(Path(nibabel_data) / "anatomical.nii")
    spacing, axis = nib.affines.voxel_sizes(affine), left_right_axis(affine[:3, :3])
    untouched, _ = timed_fit(volume, spacing, axis)
    centre = (np.asarray(volume.shape) - 1) / 2 * spacing
    rng = np.random.default_rng(args.seed)
    rows = []
    for index in range(args.poses):
        yaw, roll = rng.uniform(-args.degrees, args.degrees, size=2)
        shift = rng.uniform(-args.shift, args.shift)
        found, seconds = timed_fit(head_pose(volume, spacing, yaw, roll, shift), spacing, axis)
        rotation = Rotation.from_euler("zy", [yaw, roll], degrees=True).as_matrix()
        normal, point = rotation @ untouched.normal, rotation @ (untouched.point - centre) + centre + [shift, 0.0, 0.0]
        degrees, mm = plane_errors(found, normal, point)
        failed = bool(degrees > FAILED_DEGREES or mm > FAILED_MM)
        rows.append({"pose": index, "yaw": float(yaw), "roll": float(roll), "shift_mm": float(shift), "angle_error": degrees, "offset_error_mm": mm, "correlation": found.correlation, "failed": failed, "seconds": seconds})
        print(f"pose {index + 1}/{args.poses}: yaw {yaw:+.1f}° roll {roll:+.1f}° shift {shift:+.1f} mm → {degrees:.2f}°, {mm:.2f} mm, correlation {found.correlation:.2f}, {seconds:.2f} s", flush=True)
    template, template_affine = sample_volume()
    template_seconds = [timed_fit(template, nib.affines.voxel_sizes(template_affine), left_right_axis(template_affine[:3, :3]))[1] for _ in range(args.template_fits)]
    summary = {
        "arguments": vars(args),
        "untouched_correlation": untouched.correlation,
        "failed": int(sum(r["failed"] for r in rows)),
        "median_angle_error": float(np.median([r["angle_error"] for r in rows])),
        "median_offset_error_mm": float(np.median([r["offset_error_mm"] for r in rows])),
        "median_seconds_real_t1": float(np.median([r["seconds"] for r in rows])),
        "median_seconds_template": float(np.median(template_seconds)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "poses.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps({k: v for k, v in summary.items() if k != "arguments"}, indent=2, default=str))


if __name__ == "__main__":
    main()
