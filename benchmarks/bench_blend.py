"""Benchmark: exact Poisson blend (medinpaint) vs cv2.seamlessClone, and a 512×512 blend.

* 64×64×3: target = scikit-image's astronaut, source = its coffee image (both resized to 64×64,
  on [-1, 1]); holes: the centre quarter (32×32 box: fast diagonalisation) and a disk of radius
  16 (not a rectangle: sparse LU). medinpaint's ``poisson_blend`` vs
  ``cv2.seamlessClone(NORMAL_CLONE)`` on the same images as uint8 (OpenCV needs 8-bit input;
  conversions included in its time). Reported: median time over ``--repeats`` calls, and the max
  and median residual of the discrete Poisson equation (5-point Laplacian, in-image neighbours)
  over the hole pixels, on [-1, 1] data (OpenCV's against its uint8-quantised source).
* 512×512×1: scikit-image's camera as target, a shifted copy as source; holes: a 256×256 centre box
  and a disk of radius 200 (about 48 % of the image).

Run: ``flock /tmp/medinpaint-cpu.lock python benchmarks/bench_blend.py``
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
import torch
from skimage import data
from skimage.transform import resize

from medinpaint.inpainting.blend import _neighbour_sum, poisson_blend


def to_unit_range(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W[, 3]) → float64 (C, size, size) on [-1, 1]."""
    image = resize(image, (size, size), anti_aliasing=True, preserve_range=True) / 127.5 - 1
    return image.transpose(2, 0, 1) if image.ndim == 3 else image[None]


def residuals(result: np.ndarray, source: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    """Max and median |Δx − Δs| over hole pixels, Δ the in-image 5-point Laplacian; (C, H, W)."""
    degree = _neighbour_sum(np.ones(hole.shape))
    laplacian = lambda image: degree * image - _neighbour_sum(image)  # noqa: E731
    residual = np.abs(laplacian(result) - laplacian(source))[:, hole]
    return float(residual.max()), float(np.median(residual))


def timed(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(C, H, W) on [-1, 1] → OpenCV's (H, W, C) uint8."""
    return np.ascontiguousarray(np.clip((image.transpose(1, 2, 0) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8))


def bench_small(repeats: int) -> None:
    target = to_unit_range(data.astronaut(), 64)
    source = to_unit_range(data.coffee(), 64)
    yy, xx = np.mgrid[:64, :64]
    holes = {
        "32x32 centre box": (abs(yy - 31.5) < 16) & (abs(xx - 31.5) < 16),
        "disk radius 16": (yy - 31.5) ** 2 + (xx - 31.5) ** 2 < 16**2,
    }
    source_t = torch.from_numpy(source).float()[None]
    target_t = torch.from_numpy(target).float()[None]
    for name, hole in holes.items():
        known = torch.from_numpy(~hole).float()[None, None]
        ours_time, ours = timed(lambda: poisson_blend(source_t, target_t, known), repeats)
        ours = ours[0].double().numpy()
        assert np.array_equal(ours[:, ~hole], target_t[0].double().numpy()[:, ~hole])
        mask = hole.astype(np.uint8) * 255
        # A fresh mask every call: OpenCV 5.0.0's seamlessClone modifies its mask argument in place
        # (measured: 676 of 1024 mask pixels changed by one call, so repeated calls alternate).
        cv_time, cloned = timed(
            lambda: cv2.seamlessClone(to_uint8(source), to_uint8(target), mask.copy(), (32, 32), cv2.NORMAL_CLONE),
            repeats,
        )
        cloned = cloned.transpose(2, 0, 1).astype(np.float64) / 127.5 - 1
        # OpenCV sees the uint8-quantised source: measure its residual against that source.
        quantised_source = to_uint8(source).transpose(2, 0, 1) / 127.5 - 1
        ours_max, ours_median = residuals(ours, source, hole)
        cv_max, cv_median = residuals(cloned, quantised_source, hole)
        batch_time, _ = timed(
            lambda: poisson_blend(source_t.repeat(64, 1, 1, 1), target_t.repeat(64, 1, 1, 1), known.repeat(64, 1, 1, 1)),
            max(3, repeats // 10),
        )
        print(f"64x64x3, {name}, batch of 64 sharing the mask: medinpaint {batch_time / 64 * 1e3:.2f} ms per image")
        print(f"64x64x3, {name}: medinpaint {ours_time * 1e3:.2f} ms, residual max {ours_max:.1e} "
              f"median {ours_median:.1e}; cv2.seamlessClone {cv_time * 1e3:.2f} ms, residual max "
              f"{cv_max:.1e} median {cv_median:.1e}; speed-up {cv_time / ours_time:.1f}x")


def bench_large(repeats: int) -> None:
    target = to_unit_range(data.camera(), 512)
    source = np.roll(target, (37, -23), axis=(1, 2))
    yy, xx = np.mgrid[:512, :512]
    holes = {
        "256x256 centre box": (abs(yy - 255.5) < 128) & (abs(xx - 255.5) < 128),
        "disk radius 200": (yy - 255.5) ** 2 + (xx - 255.5) ** 2 < 200**2,
    }
    for name, hole in holes.items():
        known = torch.from_numpy(~hole).float()[None, None]
        run = lambda: poisson_blend(  # noqa: E731
            torch.from_numpy(source).float()[None], torch.from_numpy(target).float()[None], known
        )
        seconds, result = timed(run, repeats)
        worst, _ = residuals(result[0].double().numpy(), source, hole)
        print(f"512x512x1, {name} ({hole.sum()} unknowns): {seconds * 1e3:.0f} ms, residual max {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}")
    bench_small(args.repeats)
    bench_large(max(3, args.repeats // 10))


if __name__ == "__main__":
    main()
