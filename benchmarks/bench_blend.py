"""Benchmark: exact Poisson blend (medinpaint) vs cv2.seamlessClone, and a 512×512 blend.

* 64×64×3: target = scikit-image's astronaut, source = its coffee image (both resized to 64×64,
  on [-1, 1]), centre-quarter hole (32×32). medinpaint's ``poisson_blend`` vs
  ``cv2.seamlessClone(NORMAL_CLONE)`` on the same images as uint8 (OpenCV needs 8-bit input).
  Reported: median time over ``--repeats`` calls, and the max residual of the discrete Poisson
  equation (5-point Laplacian, in-image neighbours) over the hole pixels, on [-1, 1] data.
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


def max_residual(result: np.ndarray, source: np.ndarray, hole: np.ndarray) -> float:
    """Max |Δx − Δs| over hole pixels, Δ the in-image 5-point Laplacian; arrays (C, H, W)."""
    degree = _neighbour_sum(np.ones(hole.shape))
    laplacian = lambda image: degree * image - _neighbour_sum(image)  # noqa: E731
    return float(np.abs(laplacian(result) - laplacian(source))[:, hole].max())


def timed(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_small(repeats: int) -> None:
    target = to_unit_range(data.astronaut(), 64)
    source = to_unit_range(data.coffee(), 64)
    hole = np.zeros((64, 64), bool)
    hole[16:48, 16:48] = True
    known = torch.from_numpy(~hole).float()[None, None]
    source_t = torch.from_numpy(source).float()[None]
    target_t = torch.from_numpy(target).float()[None]
    ours_time, ours = timed(lambda: poisson_blend(source_t, target_t, known), repeats)
    ours = ours[0].double().numpy()
    assert np.array_equal(ours[:, ~hole], target_t[0].double().numpy()[:, ~hole])

    to_uint8 = lambda image: np.ascontiguousarray(  # noqa: E731
        np.clip((image.transpose(1, 2, 0) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    )
    mask = hole.astype(np.uint8) * 255
    cv_time, cloned = timed(
        lambda: cv2.seamlessClone(to_uint8(source), to_uint8(target), mask, (32, 32), cv2.NORMAL_CLONE),
        repeats,
    )
    cloned = cloned.transpose(2, 0, 1).astype(np.float64) / 127.5 - 1
    print(f"64x64x3, 32x32 hole: medinpaint {ours_time * 1e3:.2f} ms, residual {max_residual(ours, source, hole):.1e}")
    print(f"64x64x3, 32x32 hole: cv2.seamlessClone {cv_time * 1e3:.2f} ms, residual "
          f"{max_residual(cloned, source, hole):.1e} (uint8 in/out; known pixels changed: "
          f"{int((np.abs(cloned - to_uint8(target).transpose(2, 0, 1) / 127.5 + 1)[:, ~hole] > 1e-9).sum())})")
    print(f"speed-up over seamlessClone: {cv_time / ours_time:.1f}x")


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
        residual = max_residual(result[0].double().numpy(), source, hole)
        print(f"512x512x1, {name} ({hole.sum()} unknowns): {seconds * 1e3:.0f} ms, residual {residual:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}")
    bench_small(args.repeats)
    bench_large(max(3, args.repeats // 10))


if __name__ == "__main__":
    main()
