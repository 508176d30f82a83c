"""PNG/JPG photographs and the CelebA layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import Dataset
from PIL import Image
from skimage.data import astronaut, camera

from medinpaint.errors import MedinpaintError
from medinpaint.io.images import celeba_items, celeba_transforms, read_image
from medinpaint.pipeline import load_slices, save_like
from medinpaint.transforms import functional as fn


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
