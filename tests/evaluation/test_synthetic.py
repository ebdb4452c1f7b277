"""The ``synthetic-faces`` dataset: small faces rendered for real by Mitsuba into a temporary cache."""
from __future__ import annotations

import numpy as np
import pytest

from facerecon.api import resolve_device
from facerecon.errors import FaceReconError
from facerecon.evaluation.truth import load_truth, save_truth
from facerecon.pluginmanager import load_plugins
from facerecon.recipe import Builder

SMALL = {"count": 2, "spp": 4, "draw": {"image_size": [160, 128], "face_px": [90, 110], "texture_size": 128}}


@pytest.fixture(scope="module")
def registry():
    return load_plugins().registry


def _dataset(registry, cache, **params):
    try:
        return Builder(registry, resolve_device("cpu"), cache).build_node("dataset", {"type": "synthetic-faces", **params})
    except FaceReconError as exc:  # Mitsuba's CPU backend needs a shared libLLVM
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def generated(registry, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    dataset = _dataset(registry, cache, **SMALL)
    return cache, dataset, list(dataset)


def test_samples_are_photos_with_truth(generated):
    _, dataset, samples = generated
    assert [s.name for s in samples] == ["face000", "face001"] and len(dataset) == 2
    for sample in samples:
        assert sample.error is None and sample.image.shape == (128, 160, 3) and sample.image.dtype == np.uint8
        truth = load_truth(sample.truth)
        assert truth.model == "bfm-lite" and truth.image_size == (160, 128)
        assert truth.alpha.shape == (128, 160) and 0.0 <= truth.alpha.min() and truth.alpha.max() <= 1.0
        assert truth.region.any() and (truth.alpha[truth.region] > 0.5).mean() > 0.98  # on the head (edges: 4 spp)
        inside = np.all((truth.landmarks > 0) & (truth.landmarks < [160, 128]), axis=1)
        assert inside.all(), "the face is in the photo"
        # The nose tip's pixel shows the face region, and the photo differs from its background there.
        tip = np.floor(truth.landmarks[30]).astype(int)
        assert truth.region[tip[1], tip[0]]
        assert set(truth.baselines) == {"mean-face", "expression-only"}


def test_faces_differ_and_are_reproducible(registry, generated, tmp_path):
    cache, dataset, samples = generated
    first, second = (load_truth(s.truth) for s in samples)
    assert not np.allclose(first.identity, second.identity) and not np.allclose(first.vertices, second.vertices)
    again = list(_dataset(registry, tmp_path, **{**SMALL, "count": 1}))  # a fresh cache: generated anew, identically
    assert np.array_equal(load_truth(again[0].truth).vertices, first.vertices)
    assert np.abs(again[0].image.astype(int) - samples[0].image.astype(int)).mean() < 2.0  # Monte Carlo noise only


def test_cached_faces_are_read_not_rendered(registry, generated):
    cache, dataset, samples = generated
    stamps = [s.path.stat().st_mtime_ns for s in samples]
    reread = list(_dataset(registry, cache, **SMALL))
    assert [s.path for s in reread] == [s.path for s in samples]
    assert [s.path.stat().st_mtime_ns for s in reread] == stamps


def test_the_cache_key_follows_the_settings_not_the_count(registry, generated):
    cache, dataset, _ = generated
    more = _dataset(registry, cache, **{**SMALL, "count": 5})
    other = _dataset(registry, cache, **{**SMALL, "seed": 1})
    assert more.folder == dataset.folder and other.folder != dataset.folder


def test_truth_file_round_trip(generated, tmp_path):
    _, _, samples = generated
    truth = load_truth(samples[0].truth)
    again = load_truth(save_truth(truth, tmp_path / "copy.npz"))
    for name in ("vertices", "faces", "uvs", "diffuse", "region", "alpha", "sun_direction"):
        assert np.array_equal(getattr(again, name), getattr(truth, name)), name
    assert again.focal == truth.focal and again.specular == truth.specular and again.image_size == truth.image_size


@pytest.mark.parametrize("params, message", [
    ({"count": 0}, "count"), ({"backgrounds": ["astronaut"]}, "backgrounds"), ({"draw": {"face_px": [200, 100]}}, "face_px")])
def test_bad_settings_are_reported(registry, tmp_path, params, message):
    with pytest.raises(FaceReconError, match=message):
        Builder(registry, resolve_device("cpu"), tmp_path).build_node("dataset", {"type": "synthetic-faces", **params})


@pytest.mark.parametrize("centre, softness_mm", [((64.0, 64.0), 4.0), ((3.0, 120.0), 6.0), ((90.0, 40.0), 0.1)])
def test_a_painted_feature_blends_as_over_the_whole_map(centre, softness_mm):
    """The albedo painter blends each feature inside its bounding box widened by the blur's reach;
    the map must come out as blending the whole map gives (in the middle, at an edge, unblurred)."""
    import cv2

    from facerecon.evaluation.draw import _Canvas

    rng = np.random.default_rng(3)
    base = rng.uniform(0.2, 0.8, (128, 128, 3)).astype(np.float32)
    canvas = _Canvas(base.copy(), rng.uniform(0, 128, (68, 2)), texels_per_mm=2.0)
    colour = np.array([0.9, 0.2, 0.1])
    mask = canvas.disc(np.array(centre), 5.0)
    canvas.blend(mask, colour, softness_mm, 0.7)
    sigma = softness_mm * 2.0
    blurred = cv2.GaussianBlur(mask, (0, 0), sigma) if sigma > 0.3 else mask
    weight = (np.clip(blurred, 0.0, 1.0) * 0.7)[..., None]
    expected = base * (1.0 - weight) + colour * weight
    assert canvas.map.dtype == np.float64 and np.abs(canvas.map - base).max() > 0.1
    np.testing.assert_allclose(canvas.map, expected, rtol=0, atol=1e-6)
