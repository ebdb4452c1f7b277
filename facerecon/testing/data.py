"""Contract suites of the components around a fit: datasets, detectors, exporters, tasks."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from ..interfaces import FaceBox, FaceResult, Landmarks, Sample, Task
from ..registry import ComponentSpec
from . import scenes
from ._base import ComponentContract, registry_of

__all__ = [
    "ASTRONAUT_FACE", "astronaut", "DatasetContract", "FaceDetectorContract", "LandmarkDetectorContract",
    "ExporterContract", "TaskContract",
]

#: The face in :func:`skimage.data.astronaut` (512×512), in pixels.
ASTRONAUT_FACE = FaceBox(175.0, 70.0, 270.0, 168.0)


def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo: (512, 512, 3) uint8 RGB with one frontal face."""
    from skimage import data

    return data.astronaut()


def _iou(a: FaceBox, b: FaceBox) -> float:
    w = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    h = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = w * h
    return inter / max(a.area + b.area - inter, 1e-9)


class DatasetContract(ComponentContract):
    """Datasets: a stable, finite sequence of :class:`Sample` with uint8 RGB images.

    Provide ``component`` (e.g. pointed at a temporary folder of images).
    """

    kind = "dataset"

    def test_yields_samples(self, component):
        samples = list(component)
        assert len(samples) == len(component), f"len() is {len(component)} but iteration gave {len(samples)} samples"
        assert samples, "the dataset is empty"
        for sample in samples:
            assert isinstance(sample, Sample), f"expected Sample, got {type(sample).__name__}"
            assert isinstance(sample.name, str) and sample.name, "samples need a non-empty name"
            if sample.image is None:
                assert sample.error, f"sample {sample.name!r} has neither an image nor an error"
            else:
                image = sample.image
                assert isinstance(image, np.ndarray) and image.dtype == np.uint8, f"{sample.name}: image must be uint8"
                assert image.ndim == 3 and image.shape[2] == 3, f"{sample.name}: image must be (H, W, 3), got {image.shape}"

    def test_names_unique_and_order_stable(self, component):
        first = [s.name for s in component]
        assert len(set(first)) == len(first), f"sample names collide: {first}"
        assert [s.name for s in component] == first, "a second iteration gave another order"


class FaceDetectorContract(ComponentContract):
    """Face detectors: :class:`FaceBox` lists, best first; the astronaut's face; none in a blank image."""

    kind = "face_detector"
    #: Smallest IoU of the best box with :data:`ASTRONAUT_FACE`.
    min_iou = 0.4

    def test_finds_the_astronaut(self, component):
        image = astronaut()
        boxes = component.detect(image)
        assert isinstance(boxes, list) and boxes, "no face found in skimage.data.astronaut()"
        assert all(isinstance(b, FaceBox) for b in boxes), "detect() must return FaceBox objects"
        scores = [b.score for b in boxes]
        assert scores == sorted(scores, reverse=True), "boxes must come best first"
        h, w = image.shape[:2]
        for b in boxes:
            assert b.x0 < b.x1 and b.y0 < b.y1, f"box corners out of order: {b}"
            assert -0.25 * w <= b.x0 and b.x1 <= 1.25 * w and -0.25 * h <= b.y0 and b.y1 <= 1.25 * h, f"box far outside the image: {b}"
        assert _iou(boxes[0], ASTRONAUT_FACE) >= self.min_iou, f"best box {boxes[0]} misses the face {ASTRONAUT_FACE}"

    def test_blank_image_has_no_face(self, component):
        assert component.detect(np.full((240, 320, 3), 128, np.uint8)) == []


class LandmarkDetectorContract(ComponentContract):
    """Landmark detectors: (68, 2) float pixels in iBUG order on the astronaut's face."""

    kind = "landmark_detector"

    def test_astronaut_landmarks(self, component):
        points = component.detect(astronaut(), ASTRONAUT_FACE)
        assert isinstance(points, np.ndarray) and points.shape == (68, 2), "detect() must return a (68, 2) array"
        assert np.issubdtype(points.dtype, np.floating) and np.isfinite(points).all()
        box = ASTRONAUT_FACE
        margin = 0.2 * (box.x1 - box.x0)
        inside = ((points[:, 0] > box.x0 - margin) & (points[:, 0] < box.x1 + margin)
                  & (points[:, 1] > box.y0 - margin) & (points[:, 1] < box.y1 + margin))
        assert inside.mean() >= 0.9, "landmarks should lie on the face box"
        assert points[36:48, 1].mean() < points[48:68, 1].mean(), "eyes (36-47) should be above the mouth (48-67)"
        assert points[36:42, 0].mean() < points[42:48, 0].mean(), "the subject's right eye (36-41) is on the image left"
        assert points[8, 1] == points[0:17, 1].max(), "point 8 is the chin, the lowest jaw point"

    def test_locate_gives_a_confidence_per_point(self, component):
        located = component.locate(astronaut(), ASTRONAUT_FACE)
        assert isinstance(located, Landmarks), "locate() must return facerecon.interfaces.Landmarks"
        assert located.points.shape == (68, 2) and np.isfinite(located.points).all()
        assert located.confidence.shape == (68,), "one confidence per landmark"
        assert np.all((located.confidence >= 0) & (located.confidence <= 1)), "confidences lie in [0, 1]"
        assert located.confidence.mean() > 0.5, "a frontal, well-lit face should be found with confidence"
        detected = component.detect(astronaut(), ASTRONAUT_FACE)
        assert np.abs(located.points - detected).max() < 1.0, "locate() and detect() should agree"


class ExporterContract(ComponentContract):
    """Exporters: files that exist inside the folder, all reported, no temporary files left.

    Provide ``component``; ``result`` defaults to :func:`facerecon.testing.scenes.face_result`.
    """

    kind = "exporter"

    @pytest.fixture
    def result(self) -> FaceResult:
        """A complete reconstruction of the sphere model."""
        return scenes.face_result()

    def _export(self, component, result, folder: Path) -> list[Path]:
        paths = component.export(result, folder)
        assert isinstance(paths, list) and paths, "export() must return the list of written paths"
        return [Path(p) for p in paths]

    def test_writes_reported_files(self, component, result, tmp_path):
        folder = tmp_path / result.name
        folder.mkdir()
        paths = self._export(component, result, folder)
        for path in paths:
            assert path.is_file() and path.stat().st_size > 0, f"{path} was reported but is missing or empty"
            assert folder.resolve() in path.resolve().parents, f"{path} is outside the output folder"
        on_disk = {p.resolve() for p in folder.rglob("*") if p.is_file()}
        assert on_disk == {p.resolve() for p in paths}, (
            f"files written but not reported (temporary files left?): {sorted(map(str, on_disk - {p.resolve() for p in paths}))}"
        )

    def test_rerun_overwrites(self, component, result, tmp_path):
        first = self._export(component, result, tmp_path)
        second = self._export(component, result, tmp_path)
        assert sorted(first) == sorted(second), "a second export wrote other files"
        assert {p for p in tmp_path.rglob("*") if p.is_file()} == set(second), "a second export left extra files"


class TaskContract(ComponentContract):
    """Tasks: documented, known slots, an implementation of :class:`Task` that builds.

    Provide ``spec`` (the task's :class:`~facerecon.registry.ComponentSpec`) and ``component``
    (the built task); :class:`~facerecon.testing.ParamsContract` checks its parameters.
    """

    kind = "task"

    def test_requires_known_slots(self, spec: ComponentSpec, component):
        slots = registry_of(component).slots()
        unknown = set(spec.requires) - set(slots) - {"stages"}
        assert not unknown, f"task {spec.name!r} requires unknown slots {sorted(unknown)}; slots: {', '.join(slots)}, stages"

    def test_implementation(self, spec: ComponentSpec, component):
        cls = spec.load()
        assert inspect.isclass(cls) and issubclass(cls, Task), f"{spec.factory} should be a Task subclass"
        assert (cls.__doc__ or "").strip(), f"{cls.__name__} needs a docstring"
        assert isinstance(component, Task)
