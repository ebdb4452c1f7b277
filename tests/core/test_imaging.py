"""sRGB curves and image file I/O on real files."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from facerecon.errors import FaceReconError
from facerecon.imaging import (
    ImageReadError, linear_to_srgb, read_image, srgb_to_linear, to_rgb8, to_uint8, write_image,
)

# (sRGB, linear) pairs from the IEC 61966-2-1 formula, computed independently.
KNOWN = [(0.0, 0.0), (0.02, 0.02 / 12.92), (0.04045, 0.04045 / 12.92), (0.5, 0.21404114048223255), (1.0, 1.0)]


def test_srgb_to_linear_matches_known_values_numpy_and_torch():
    srgb = np.array([s for s, _ in KNOWN])
    linear = np.array([lin for _, lin in KNOWN])
    np.testing.assert_allclose(srgb_to_linear(srgb), linear, rtol=1e-12, atol=1e-12)
    out = srgb_to_linear(torch.tensor(srgb, dtype=torch.float64))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), linear, rtol=1e-12, atol=1e-12)


def test_curves_are_inverse_and_continuous():
    x = np.linspace(0.0, 1.0, 10001)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-12)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-12)
    assert np.all(np.diff(srgb_to_linear(x)) > 0)
    eps = 1e-9
    assert abs(srgb_to_linear(0.04045 + eps) - srgb_to_linear(0.04045 - eps)) < 1e-6
    assert abs(linear_to_srgb(0.0031308 + eps) - linear_to_srgb(0.0031308 - eps)) < 1e-6


def test_dtypes_integer_scaling_and_shapes():
    image = np.full((4, 5, 3), 128, np.uint8)
    lin = srgb_to_linear(image)
    assert lin.dtype == np.float32 and lin.shape == (4, 5, 3)
    np.testing.assert_allclose(lin, srgb_to_linear(128 / 255), rtol=1e-6)
    assert srgb_to_linear(np.zeros(3, np.float32)).dtype == np.float32
    t = srgb_to_linear(torch.full((2, 4, 5, 3), 255, dtype=torch.uint8))
    assert t.dtype == torch.float32 and torch.allclose(t, torch.ones_like(t))


def test_torch_gradients_are_finite_everywhere():
    x = torch.tensor([-0.1, 0.0, 0.002, 0.0031308, 0.04045, 0.5, 1.0, 1.5], requires_grad=True)
    (srgb_to_linear(x).sum() + linear_to_srgb(x).sum()).backward()
    assert torch.isfinite(x.grad).all()
    assert torch.allclose(x.grad[1], torch.tensor(1 / 12.92 + 12.92))


def test_nextface_power_law_differs_from_exact_curve():
    x = np.linspace(0, 1, 1001)
    diff = np.abs(srgb_to_linear(x) - x**2.2)
    assert 0.008 < diff.max() < 0.009


def test_to_uint8_and_to_rgb8():
    np.testing.assert_array_equal(to_uint8(np.array([-0.5, 0.0, 0.5, 1.0, 2.0, np.nan])), [0, 0, 128, 255, 255, 0])
    with pytest.raises(TypeError):
        to_uint8(np.zeros(3, np.uint16))
    grey = to_rgb8(np.full((3, 4), 0.5))
    assert grey.shape == (3, 4, 3) and grey.dtype == np.uint8 and (grey == 128).all()
    assert to_rgb8(np.zeros((3, 4, 4), np.uint8)).shape == (3, 4, 3)
    with pytest.raises(ValueError):
        to_rgb8(np.zeros((3, 4, 2), np.uint8))


def test_write_then_read_png_and_jpeg_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    png = write_image(tmp_path / "sub" / "a.png", image)
    np.testing.assert_array_equal(read_image(png), image)
    smooth = np.linspace(0, 1, 40 * 30 * 3).reshape(40, 30, 3)
    jpg = write_image(tmp_path / "b.jpg", smooth)
    back = read_image(jpg)
    assert back.shape == (40, 30, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - to_uint8(smooth).astype(int)).mean() < 3
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "b.jpg"]  # no temp left


def test_write_grey_and_rgba(tmp_path):
    write_image(tmp_path / "g.png", np.full((5, 6, 1), 0.25))
    assert Image.open(tmp_path / "g.png").mode == "L"
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 100
    write_image(tmp_path / "r.png", rgba)
    back = read_image(tmp_path / "r.png")
    assert back.shape == (5, 6, 3) and (back[..., 0] == 200).all() and (back[..., 1:] == 0).all()
    write_image(tmp_path / "r.jpg", rgba)
    assert read_image(tmp_path / "r.jpg").shape == (5, 6, 3)
    with pytest.raises(ValueError):
        write_image(tmp_path / "bad.png", np.zeros((5, 6, 2)))


def test_read_grey_16bit_and_palette(tmp_path):
    Image.fromarray(np.full((4, 5), 77, np.uint8)).save(tmp_path / "l.png")
    grey = read_image(tmp_path / "l.png")
    assert grey.shape == (4, 5, 3) and (grey == 77).all()
    deep = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png")[..., 0], [[0, 100, 255]])
    Image.fromarray(np.full((4, 5, 3), (10, 20, 30), np.uint8)).quantize(4).save(tmp_path / "p.gif")
    assert tuple(read_image(tmp_path / "p.gif")[0, 0]) == (10, 20, 30)


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((10, 20, 3), np.uint8)
    stored[:, :10] = (255, 0, 0)  # left half red
    stored[:, 10:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90° clockwise
    Image.fromarray(stored).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "rot.jpg")
    assert upright.shape == (20, 10, 3)
    assert upright[2, 5, 0] > 200 and upright[2, 5, 2] < 60  # top is red
    assert upright[17, 5, 2] > 200 and upright[17, 5, 0] < 60  # bottom is blue


@pytest.mark.parametrize(
    "name, content",
    [("text.png", b"hello, not an image\n"), ("empty.jpg", b""), ("notes.txt", b"plain text")],
)
def test_unreadable_files_raise_image_read_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FaceReconError)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_jpeg_raises(tmp_path):
    good = tmp_path / "good.jpg"
    write_image(good, np.random.default_rng(1).random((64, 64, 3)))
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.jpg")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)
