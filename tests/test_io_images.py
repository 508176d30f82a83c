"""PNG/JPG photographs and the CelebA layout."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from monai.data import Dataset
from PIL import Image
from skimage.data import astronaut, camera
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.data.sample import sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.io.images import celeba_items, celeba_transforms, read_image
from medinpaint.pipeline import load_slices, save_like
from medinpaint.transforms import functional as fn

runner = CliRunner()


def test_grey_and_colour_images(tmp_path):
    Image.fromarray(camera()).save(tmp_path / "grey.png")
    Image.fromarray(astronaut()).save(tmp_path / "colour.jpg")
    grey = load_slices(tmp_path / "grey.png")
    colour = load_slices(tmp_path / "colour.jpg")
    assert grey.domain == colour.domain == "photo"
    assert grey.images.shape == (1, 1, 64, 64) and colour.images.shape == (1, 3, 64, 64)
    assert np.array_equal(grey.native[0, 0].numpy(), camera().astype(np.float32))
    expected = torch.from_numpy(camera().astype(np.float32)) / 127.5 - 1
    assert torch.allclose(grey.images[0, 0], fn.resize_area(expected[None, None], 64)[0, 0], atol=1e-5)


def test_png_round_trip(tmp_path):
    Image.fromarray(astronaut()).save(tmp_path / "in.png")
    loaded = load_slices(tmp_path / "in.png")
    out = save_like(loaded, loaded.native, tmp_path / "out.png", description="x")
    assert np.array_equal(np.asarray(Image.open(out)), astronaut())
    with pytest.raises(MedinpaintError, match="must end in .png"):
        save_like(loaded, loaded.native, tmp_path / "out.jpg", description="x")


def test_not_an_image_is_reported(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(MedinpaintError, match="notes.png is not a readable image"):
        read_image(tmp_path / "notes.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MedinpaintError, match="not a readable image"):
        load_slices(tmp_path / "notes.txt")


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(MedinpaintError, match="missing.dcm does not exist: check the path"):
        load_slices(tmp_path / "missing.dcm")


def test_celeba_items_and_splits(celeba_root):
    assert len(celeba_items(celeba_root)) == 6
    assert len(celeba_items(celeba_root / "img_align_celeba")) == 6
    assert [len(celeba_items(celeba_root, s)) for s in ("train", "val", "test")] == [4, 1, 1]
    with pytest.raises(MedinpaintError, match="unknown CelebA split 'dev'"):
        celeba_items(celeba_root, "dev")


def test_celeba_split_needs_partition_file(tmp_path, celeba_root):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    Image.open(celeba_root / "img_align_celeba" / "000001.jpg").save(folder / "000001.jpg")
    with pytest.raises(MedinpaintError, match="needs list_eval_partition.txt"):
        celeba_items(tmp_path, "train")


def test_celeba_transforms_crop_108_then_64(celeba_root):
    items = celeba_items(celeba_root, "train")
    dataset = Dataset(items, transform=celeba_transforms())
    image = dataset[0]["image"]
    assert isinstance(image, torch.Tensor) and image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert image.min() >= -1 and image.max() <= 1
    raw = np.asarray(Image.open(items[0]["image"]), dtype=np.float32)  # (218, 178, 3)
    top, left = (218 - 108) // 2, (178 - 108) // 2
    crop = torch.from_numpy(raw[top : top + 108, left : left + 108]).permute(2, 0, 1)[None]
    expected = fn.resize_area(crop, 64)[0] / 127.5 - 1
    assert torch.allclose(image, expected, atol=1e-4)


@pytest.fixture(scope="module")
def mr_slice() -> np.ndarray:
    """An axial slice of the embedded MNI152 T1 as 8-bit grey (display orientation)."""
    volume = sample_volume()[0][:, :, 110].T[::-1]
    return np.rint(volume / volume.max() * 255).astype(np.uint8)


@pytest.mark.parametrize("stored", ["palette", "rgb"])
def test_a_grey_image_stored_in_colour_is_filled_as_grey(tmp_path, mr_slice, stored):
    """A grey MR slice saved as a palette PNG or as RGB (every pixel's channels equal) is read as one
    channel by the one-channel brain model (it was refused as 3-channel before) and written as a grey
    PNG, its known pixels the input's; a real colour image is still refused."""
    image = Image.fromarray(mr_slice).convert("P") if stored == "palette" else Image.fromarray(np.stack([mr_slice] * 3, -1))
    image.save(tmp_path / "slice.png")
    result = runner.invoke(app, ["inpaint", "-i", str(tmp_path / "slice.png"), "-m", "box:16", "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    filled = np.asarray(Image.open(tmp_path / "out.png"))
    known = np.asarray(Image.open(tmp_path / "slice.png").convert("L")) == filled
    assert filled.ndim == 2 and known.mean() > 0.9 and np.array_equal(filled[known], mr_slice[known])
    assert not np.array_equal(filled, mr_slice)  # the box was filled
    Image.fromarray(astronaut()).save(tmp_path / "colour.png")
    refused = runner.invoke(app, ["inpaint", "-i", str(tmp_path / "colour.png"), "-m", "box:16", "-o", str(tmp_path / "colour_out.png")])
    assert refused.exit_code == 2 and "colour.png has 3 channel(s)" in refused.output


@pytest.mark.parametrize(
    "mode, values, message",
    [
        ("F", np.linspace(0.0, 1.5, 64 * 64, dtype=np.float32), r"^error: dose.tif holds floating-point pixels, which a PNG result cannot keep: give the image as NIfTI"),
        ("I", np.arange(64 * 64, dtype=np.int32) * 40, r"^error: dose.tif holds values from 0 to 163800, beyond the 0..65535 that a PNG result can keep"),
    ],
)
def test_pixels_a_png_result_cannot_keep_are_refused_before_any_work(tmp_path, mode, values, message):
    """A 32-bit float TIFF (read as RGB bytes before) and a 32-bit integer TIFF beyond 16 bits: one error
    line naming the fix, nothing written."""
    Image.fromarray(values.reshape(64, 64), mode=mode).save(tmp_path / "dose.tif")
    result = runner.invoke(app, ["inpaint", "-i", str(tmp_path / "dose.tif"), "-m", "box:16", "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert re.search(message, result.output) and not (tmp_path / "out.png").exists()
