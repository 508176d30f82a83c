"""Importance weights: the vectorised version against a plain loop, border rule, errors."""

import pytest
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.weights import importance_weights


def brute_force_weights(known: torch.Tensor, window: int) -> torch.Tensor:
    """W_i = missing fraction over the in-image pixels of the window; 0 on missing pixels."""
    _, _, height, width = known.shape
    half = window // 2
    weights = torch.zeros_like(known)
    for n in range(known.shape[0]):
        for y in range(height):
            for x in range(width):
                if known[n, 0, y, x] == 0:
                    continue
                box = known[n, 0, max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1]
                weights[n, 0, y, x] = (1 - box).sum() / box.numel()
    return weights


@pytest.mark.parametrize("window", [3, 7])
def test_matches_brute_force_loop_including_borders(window):
    generator = torch.Generator().manual_seed(0)
    known = (torch.rand(2, 1, 12, 10, generator=generator) > 0.3).float()
    known[0, 0, 0, :4] = 0  # a hole on the border
    torch.testing.assert_close(importance_weights(known, window), brute_force_weights(known, window))


def test_missing_pixels_weigh_zero_and_far_pixels_weigh_zero():
    known = torch.ones(1, 1, 64, 64)
    known[..., 16:48, 16:48] = 0
    weights = importance_weights(known)
    assert torch.all(weights[known == 0] == 0)
    assert weights[0, 0, 0, 0] == 0  # no missing pixel within 3 pixels
    assert weights[0, 0, 15, 20] == pytest.approx(3 * 7 / 49)  # row above the hole: 3 rows of 7 missing


def test_border_window_is_clipped_not_padded():
    known = torch.ones(1, 1, 8, 8)
    known[0, 0, 0, 1] = 0
    # Corner pixel (0, 0): its 3×3 window holds 4 in-image pixels, one missing.
    assert importance_weights(known, window=3)[0, 0, 0, 0] == pytest.approx(0.25)


@pytest.mark.parametrize("window", [0, 4, -3])
def test_even_or_non_positive_window_is_refused(window):
    with pytest.raises(MedinpaintError, match="window must be a positive odd integer"):
        importance_weights(torch.ones(1, 1, 8, 8), window)


def test_mask_without_channel_axis_is_refused():
    with pytest.raises(MedinpaintError, match=r"shape \(N, 1, H, W\)"):
        importance_weights(torch.ones(1, 8, 8))
