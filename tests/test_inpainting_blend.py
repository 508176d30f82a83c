"""Poisson blending: the discrete equation holds, known pixels are bit-identical, errors."""

import numpy as np
import pytest
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.blend import blend, poisson_blend, sobel_adam_blend


def poisson_residual(result: torch.Tensor, source: torch.Tensor, known: torch.Tensor) -> float:
    """Max over hole pixels of |Σ_q (x_p − x_q) − Σ_q (s_p − s_q)|, q over in-image 4-neighbours."""
    x, s = result.double().numpy(), source.double().numpy()
    hole = (known[:, 0] < 0.5).numpy()
    height, width = hole.shape[-2:]
    worst = 0.0
    for n, c, y, xx in [(n, c, y, xx) for n in range(x.shape[0]) for c in range(x.shape[1]) for y, xx in zip(*np.nonzero(hole[n]))]:
        lhs = rhs = 0.0
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            qy, qx = y + dy, xx + dx
            if 0 <= qy < height and 0 <= qx < width:
                lhs += x[n, c, y, xx] - x[n, c, qy, qx]
                rhs += s[n, c, y, xx] - s[n, c, qy, qx]
        worst = max(worst, abs(lhs - rhs))
    return worst


@pytest.fixture()
def case():
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(5, 3, 24, 20, generator=generator) * 2 - 1
    target = torch.rand(5, 3, 24, 20, generator=generator) * 2 - 1
    known = torch.ones(5, 1, 24, 20)
    known[0, :, 6:14, 5:12] = 0  # interior box (fast diagonalisation, Dirichlet all round)
    known[1, :, 0:9, 12:20] = 0  # box in the top-right corner: touches two borders
    known[2] = (torch.rand(1, 24, 20, generator=generator) > 0.4).float()  # dropout (sparse LU)
    known[3, :, :, 10:] = 0  # right half: touches three borders
    known[4, :, 6:14, 5:12] = 0
    known[4, :, 10, 12] = 0  # box plus one pixel: not a rectangle (sparse LU)
    return source, target, known


def test_solution_satisfies_the_discrete_poisson_equation(case):
    source, target, known = case
    result = poisson_blend(source, target, known)
    assert poisson_residual(result, source, known) < 1e-6


def test_known_pixels_are_bit_identical(case):
    source, target, known = case
    result = poisson_blend(source, target, known)
    is_known = (known > 0.5).expand_as(target)
    assert torch.equal(result[is_known], target[is_known])
    assert result.dtype == target.dtype


def test_images_sharing_a_mask_get_the_same_answer_as_alone(case):
    source, target, known = case
    shared = known[:1].repeat(2, 1, 1, 1)
    together = poisson_blend(source[:2], target[:2], shared)
    alone = poisson_blend(source[1:2], target[1:2], shared[1:2])
    torch.testing.assert_close(together[1:2], alone, rtol=0, atol=1e-6)


def test_flat_source_gives_the_harmonic_fill_and_constant_boundary_stays_constant():
    target = torch.full((1, 1, 16, 16), 0.25)
    known = torch.ones(1, 1, 16, 16)
    known[..., 4:12, 3:9] = 0
    result = poisson_blend(torch.full((1, 1, 16, 16), -0.7), target, known)
    torch.testing.assert_close(result, target, rtol=0, atol=1e-6)


def test_nothing_missing_returns_the_target():
    target = torch.rand(1, 2, 8, 8)
    assert torch.equal(poisson_blend(torch.zeros(1, 2, 8, 8), target, torch.ones(1, 1, 8, 8)), target)


def test_mask_without_known_pixels_is_refused():
    with pytest.raises(MedinpaintError, match="mask covers the whole image"):
        poisson_blend(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


def test_shape_mismatch_is_refused():
    with pytest.raises(MedinpaintError, match=r"known mask must have shape \(1, 1, 8, 8\)"):
        poisson_blend(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 4, 4))
    with pytest.raises(MedinpaintError, match="source and target must both be"):
        poisson_blend(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4))


def test_seed_sobel_adam_blend_keeps_known_pixels_but_misses_the_equation(case):
    source, target, known = case
    approximate = sobel_adam_blend(source[:1], target[:1], known[:1], steps=50)
    is_known = (known[:1] > 0.5).expand_as(target[:1])
    assert torch.equal(approximate[is_known], target[:1][is_known])
    assert poisson_residual(approximate, source[:1], known[:1]) > 1e-2


def test_unknown_method_is_refused(case):
    source, target, known = case
    with pytest.raises(MedinpaintError, match="unknown blend method 'pyramid'"):
        blend(source, target, known, method="pyramid")


def test_sobel_matches_monai_sobel_gradients_to_float_tolerance_only():
    """Why blend._sobel is kept: MONAI's SobelGradients (unnormalised kernels, zero padding) gives
    the same responses only to float tolerance (separable kernels round differently) and in
    another channel order, and its per-image MetaTensor call would sit inside the 500-step
    autograd loop of the reference Sobel–Adam blend."""
    from monai.transforms import SobelGradients

    from medinpaint.inpainting.blend import _sobel

    images = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    ours = _sobel(images).reshape(2, 3, 2, 9, 11)  # (N, C, [d/dx, d/dy], H, W)
    monai = torch.as_tensor(SobelGradients(kernel_size=3, normalize_kernels=False, padding_mode="zeros")(images.reshape(6, 9, 11)))
    monai = monai.as_subclass(torch.Tensor).reshape(2, 2, 3, 9, 11)  # ([d/dH, d/dW], N, C, H, W)
    as_ours = torch.stack([monai[1], monai[0]], dim=2)  # ours: d/dW (x) first, then d/dH (y)
    assert torch.allclose(ours, as_ours, atol=1e-6)
