"""Mask kinds: geometry, missing fraction, location, seeding; spec parsing; MONAI random transforms."""

from __future__ import annotations

import pytest
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.masks import (
    centre_box,
    centre_quarter,
    check_mask,
    half,
    make_mask,
    pattern,
    pixel_dropout,
    random_box,
    random_centre_box,
)


def missing(known: torch.Tensor) -> torch.Tensor:
    return known[0] == 0


def bbox(known: torch.Tensor) -> tuple[int, int, int, int]:
    rows, cols = torch.nonzero(missing(known), as_tuple=True)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def test_centre_box_and_quarter():
    known = centre_box(24)
    assert known.shape == (1, 64, 64) and known.dtype == torch.float32
    assert bbox(known) == (20, 43, 20, 43)
    assert bbox(centre_quarter()) == (16, 47, 16, 47)
    assert missing(centre_quarter()).float().mean() == 0.25
    with pytest.raises(MedinpaintError, match="box side 80 must be between 1 and the image side 64"):
        centre_box(80)


def test_random_centre_box_is_centred_seeded_and_bounded():
    sizes = set()
    for seed in range(20):
        known = random_centre_box(12, torch.Generator().manual_seed(seed))
        top, bottom, left, right = bbox(known)
        height, width = bottom - top + 1, right - left + 1
        assert 1 <= height <= 12 and 1 <= width <= 12
        assert abs((top + bottom) / 2 - 31.5) <= 0.5 and abs((left + right) / 2 - 31.5) <= 0.5
        assert missing(known).sum() == height * width
        sizes.add((height, width))
    assert len(sizes) > 5
    same = [random_centre_box(12, torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*same)


def test_random_box_inside_and_seeded():
    for seed in range(20):
        top, bottom, left, right = bbox(random_box(8, 32, torch.Generator().manual_seed(seed)))
        assert 8 <= bottom - top + 1 <= 32 and 8 <= right - left + 1 <= 32
        assert top >= 0 and left >= 0 and bottom < 64 and right < 64
    assert not torch.equal(random_box(generator=torch.Generator().manual_seed(0)), random_box(generator=torch.Generator().manual_seed(1)))


def test_pixel_dropout_rate_and_seed():
    known = pixel_dropout(0.8, torch.Generator().manual_seed(0), size=128)
    assert abs(missing(known).float().mean() - 0.8) < 0.02
    assert torch.equal(pixel_dropout(0.5, torch.Generator().manual_seed(4)), pixel_dropout(0.5, torch.Generator().manual_seed(4)))
    with pytest.raises(MedinpaintError, match=r"dropout rate must be in \(0, 1\)"):
        pixel_dropout(1.0)


@pytest.mark.parametrize(
    ("side", "region"),
    [("left", (slice(None), slice(0, 32))), ("right", (slice(None), slice(32, None))),
     ("top", (slice(0, 32), slice(None))), ("bottom", (slice(32, None), slice(None)))],
)
def test_half(side, region):
    known = half(side)
    assert missing(known)[region].all() and missing(known).float().mean() == 0.5


def test_pattern_is_a_regular_lattice():
    known = pattern(8, 2)
    assert missing(known).float().mean() == pytest.approx(1 - (6 / 8) ** 2)
    assert missing(known)[4, :].all() and missing(known)[:, 5].all()
    assert not missing(known)[0, 0] and not missing(known)[63, 63]


@pytest.mark.parametrize(
    ("spec", "fraction"),
    [("box:24", 576 / 4096), ("quarter", 0.25), ("half:top", 0.5), ("pattern", 0.4375), ("Center:12", None), ("dropout:0.8", None), ("random-box", None)],
)
def test_make_mask_specs(spec, fraction):
    known = make_mask(spec, generator=torch.Generator().manual_seed(0))
    assert known.shape == (1, 64, 64) and set(known.unique().tolist()) <= {0.0, 1.0}
    check_mask(known)
    if fraction is not None:
        assert missing(known).float().mean() == pytest.approx(fraction)


def test_make_mask_errors():
    with pytest.raises(MedinpaintError, match="unknown mask 'boxx': did you mean 'box'"):
        make_mask("boxx")
    with pytest.raises(MedinpaintError, match="needs a side, e.g. box:24"):
        make_mask("box")
    with pytest.raises(MedinpaintError, match="'big' is not a number"):
        make_mask("dropout:big")
    with pytest.raises(MedinpaintError, match="unknown half 'middle'"):
        make_mask("half:middle")


def test_check_mask():
    with pytest.raises(MedinpaintError, match=r"mask covers the whole image \(image 0\)"):
        check_mask(torch.zeros(1, 64, 64))
    with pytest.raises(MedinpaintError, match=r"the mask covers all of slice 7: whole slices of a volume are filled from"):
        check_mask(torch.stack([centre_box(8), torch.zeros(1, 64, 64)]), slice_indices=(6, 7))
    check_mask(torch.stack([centre_box(8), torch.zeros(1, 64, 64)]), volume=True)  # the 3-D fill takes it
    with pytest.raises(MedinpaintError, match="mask covers the whole volume"):
        check_mask(torch.zeros(2, 1, 64, 64), volume=True)
    with pytest.raises(MedinpaintError, match=r"mask values must be in \[0, 1\]"):
        check_mask(torch.full((1, 1, 8, 8), 255.0))
    with pytest.raises(MedinpaintError, match=r"mask must have shape \(N, 1, H, W\)"):
        check_mask(torch.ones(2, 3, 8, 8))
