"""The ``images`` dataset on real files written to a temporary folder."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from facerecon.errors import FaceReconError
from facerecon.imaging import write_image
from facerecon.interfaces import BuildContext, Dataset
from facerecon.registry import Registry
from plugins import datasets
from plugins.datasets import ImagesParams
from plugins.datasets.images import DatasetInputError, ImagesDataset


def make(tmp_path, **params) -> ImagesDataset:
    return ImagesDataset(ImagesParams(**params), BuildContext(torch.device("cpu"), tmp_path, build=None))


@pytest.fixture
def folder(tmp_path):
    """b.png, a.jpg (real photos), broken.jpg (truncated), fake.png (text), notes.txt, .hidden.png."""
    root = tmp_path / "photos"
    astronaut = data.astronaut()[::4, ::4]
    write_image(root / "b.png", astronaut)
    write_image(root / "a.jpg", astronaut)
    jpeg = (root / "a.jpg").read_bytes()
    (root / "broken.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (root / "fake.png").write_text("this is not a picture\n")
    (root / "notes.txt").write_text("some notes\n")
    write_image(root / ".hidden.png", astronaut)
    write_image(root / "sub" / "b.png", astronaut[:, ::-1])
    return root


def test_registration():
    registry = Registry()
    datasets.facerecon_register_components(registry)
    assert registry.names("dataset") == ["images"]
    assert issubclass(registry.get("dataset", "images").load(), Dataset)


def test_default_is_the_astronaut(tmp_path):
    dataset = make(tmp_path)
    samples = list(dataset)
    assert len(dataset) == 1 and len(samples) == 1
    sample = samples[0]
    assert sample.name == "astronaut" and sample.path is None and sample.error is None
    assert sample.image.shape == (512, 512, 3) and sample.image.dtype == np.uint8


def test_folder_sorted_with_errors_reported(tmp_path, folder):
    dataset = make(tmp_path, input=str(folder))
    samples = list(dataset)
    assert len(dataset) == 5
    assert [s.name for s in samples] == ["a", "b", "broken", "fake", "sub/"]  # no notes.txt, .hidden
    a, b, broken, fake, sub = samples
    assert sub.image is None and "recursive: true" in sub.error and sub.path == folder / "sub"
    for good in (a, b):
        assert good.error is None and good.image.shape == (128, 128, 3) and good.image.dtype == np.uint8
    np.testing.assert_array_equal(b.image, data.astronaut()[::4, ::4])
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 4  # JPEG
    for bad in (broken, fake):
        assert bad.image is None and bad.path.name in bad.error and "Cannot read" in bad.error
    assert fake.path == folder / "fake.png"


def test_recursive_folder_gives_unique_names(tmp_path, folder):
    samples = list(make(tmp_path, input=str(folder), recursive=True))
    assert [s.name for s in samples] == ["a", "b", "broken", "fake", "b-2"]
    assert samples[-1].path == folder / "sub" / "b.png"
    np.testing.assert_array_equal(samples[-1].image, samples[1].image[:, ::-1])


def test_glob(tmp_path, folder):
    assert [s.name for s in make(tmp_path, input=str(folder / "*.png"))] == ["b", "fake"]
    assert [s.name for s in make(tmp_path, input=str(folder / "[ab].*"))] == ["a", "b"]
    deep = make(tmp_path, input=str(folder / "**" / "b.png"), recursive=True)
    assert [s.path for s in deep] == [folder / "b.png", folder / "sub" / "b.png"]


def test_single_file_of_any_extension(tmp_path, folder):
    (sample,) = list(make(tmp_path, input=str(folder / "b.png")))
    assert sample.name == "b" and sample.image.shape == (128, 128, 3)
    (text,) = list(make(tmp_path, input=str(folder / "notes.txt")))
    assert text.image is None and "notes.txt" in text.error


def test_missing_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere" / "face.jpg"
    with pytest.raises(DatasetInputError) as info:
        make(tmp_path, input=str(missing))
    message = str(info.value)
    assert isinstance(info.value, FaceReconError) and isinstance(info.value, FileNotFoundError)
    assert "does not exist" in message and str(missing) in message and "glob" in message
    assert "\n" not in message


def test_empty_folder_and_unmatched_glob(tmp_path, folder):
    empty = tmp_path / "empty"
    (empty / "deeper").mkdir(parents=True)
    write_image(empty / "deeper" / "x.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DatasetInputError, match="contains no image files.*recursive: true"):
        make(tmp_path, input=str(empty))
    assert len(make(tmp_path, input=str(empty), recursive=True)) == 1
    with pytest.raises(DatasetInputError, match="matches no image file"):
        make(tmp_path, input=str(folder / "*.gif"))
