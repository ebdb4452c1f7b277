"""The ``auto`` detectors: the best detector installed, never failing for want of one backend.

The face detector tries, on each photo, its detectors in order (by default MediaPipe's
BlazeFace, dlib's HOG, OpenCV's Haar cascade) until one finds a face; the landmark detector
uses the first of its detectors that can be built (MediaPipe's face mesh, then dlib's
predictor). A detector whose library or model file is missing here (no LiteRT runtime, no
dlib, an OpenCV 5 without Haar cascades) is left out, and they say which and why.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from facerecon.contour import estimated_yaw
from facerecon.interfaces import BuildContext, FaceBox, FaceDetector, LandmarkDetector, Landmarks
from facerecon.landmarks import OUTER_EYE_CORNERS

from . import AutoFaceParams, AutoLandmarkParams
from .common import BackendUnavailable, DetectorSetupError

__all__ = ["AutoFaceDetector", "AutoLandmarkDetector"]


def _face_detectors() -> dict[str, Callable]:
    from .blazeface import BlazeFaceDetector
    from .dlib_detectors import DlibFaceDetector
    from .opencv_detector import OpenCVFaceDetector

    return {"blazeface": BlazeFaceDetector, "dlib": DlibFaceDetector, "opencv": OpenCVFaceDetector}


def _landmark_detectors() -> dict[str, Callable]:
    from .dlib_detectors import DlibLandmarkDetector
    from .face_mesh import FaceMeshLandmarkDetector

    return {"face-mesh": FaceMeshLandmarkDetector, "dlib": DlibLandmarkDetector}


def _build_available(kind: str, factories: dict[str, Callable], params, context: BuildContext,
                     first_only: bool) -> tuple[dict[str, object], dict[str, str]]:
    """Build each of ``params.detectors`` (or only the first that can be) with its settings from ``params``.

    Returns:
        The detectors built, by name, in order; and why each of the others tried is unavailable.

    Raises:
        DetectorSetupError: none could be built (or a setting is wrong).
    """
    built, unavailable = {}, {}
    for name in dict.fromkeys(params.detectors):  # in order, once each
        try:
            built[name] = factories[name](getattr(params, name.replace("-", "_")), context)
        except BackendUnavailable as exc:
            unavailable[name] = str(exc)
            continue
        if first_only:
            break
    if not built:
        reasons = " ".join(f"{name}: {reason}" for name, reason in unavailable.items())
        raise DetectorSetupError(f"{kind} 'auto': none of {list(params.detectors)} can be used here. {reasons}")
    return built, unavailable


class AutoFaceDetector(FaceDetector):
    """The installed face detectors in order; on each photo the first that finds a face answers.

    Attributes:
        detectors: the detectors built, by name, best first.
        unavailable: why each of the others could not be built, by name.
        last_source: the name of the detector that found the last photo's faces, or ``None``.
    """

    def __init__(self, params: AutoFaceParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.detectors, self.unavailable = _build_available(
            "face_detector", _face_detectors(), params, context, first_only=False
        )
        self.last_source: str | None = None

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best first (may be empty)."""
        for name, detector in self.detectors.items():
            boxes = detector.detect(image)
            if boxes:
                self.last_source = name
                return boxes
        self.last_source = None
        return []


class AutoLandmarkDetector(LandmarkDetector):
    """The first installed landmark detector of its list, or (``combine: mean``) the
    confidence-weighted mean of every installed one.

    Attributes:
        backend: the name of the detector used (``"mean of a, b"`` when combining).
        unavailable: why each of the detectors before it could not be built, by name.
    """

    def __init__(self, params: AutoLandmarkParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self._detectors, self.unavailable = _build_available(
            "landmark_detector", _landmark_detectors(), params, context, first_only=params.combine == "first"
        )
        names = list(self._detectors)
        self.backend = names[0] if len(names) == 1 else f"mean of {', '.join(names)}"

    def detect(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """(H, W, 3) uint8 RGB and a face box -> (68, 2) float32 pixel coordinates (x, y)."""
        return self.locate(image, box).points

    def locate(self, image: np.ndarray, box: FaceBox) -> Landmarks:
        """(H, W, 3) uint8 RGB and a face box -> the 68 landmarks and their confidences."""
        answers = [detector.locate(image, box) for detector in self._detectors.values()]
        if len(answers) == 1:
            return answers[0]
        points = np.stack([np.asarray(a.points, np.float64) for a in answers])  # (D, 68, 2)
        confidence = np.stack([np.asarray(a.confidence, np.float64) for a in answers])  # (D, 68)
        first = points[0]
        eyes = max(float(np.linalg.norm(first[OUTER_EYE_CORNERS[0]] - first[OUTER_EYE_CORNERS[1]])), 1e-6)
        yaw = float(estimated_yaw(torch.as_tensor(first[None], dtype=torch.float32))[0])
        disagreement = np.linalg.norm(points - first, axis=-1).mean(-1).max() / eyes
        if abs(yaw) > self.params.frontal_yaw or disagreement > self.params.disagreement:
            return answers[0]
        weights = confidence + 1e-6  # equal weights where every detector gives 0
        mean = (points * weights[..., None]).sum(0) / weights.sum(0)[..., None]
        return Landmarks(points=mean.astype(np.float32), confidence=confidence.mean(0).astype(np.float32))
