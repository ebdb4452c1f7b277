"""MediaPipe's face mesh: 468 3D points per face, read as the 68 iBUG landmarks with a visibility each.

The model (``face_landmark.tflite``, Kartynnik et al. 2019) sees a 192 × 192 crop of the face,
upright, and predicts 468 points (x, y in crop pixels, z the depth relative to the face centre
in the same units, smaller nearer) and a face-presence logit. The crop comes from the face box
and its roll first, then, as MediaPipe's tracker does, from the points of the previous pass,
which makes the result independent of how a detector frames its boxes and of the box's roll.
(MediaPipe's ``face_landmark_with_attention.tflite``, with 478 points, needs MediaPipe's own
custom operators, which LiteRT does not have.)

Visibility: each of the 68 points gets the normal of the mesh surface around it (the plane
through its mesh point and that point's neighbours); a point whose surface turns away from the
camera (a jaw point on the far side of a turned head) is hidden. Its confidence falls from 1 to
0 as the normal turns from ``visible_angle`` to ``hidden_angle`` degrees away from the camera,
times the face-presence probability.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from facerecon.imaging import to_rgb8
from facerecon.interfaces import BuildContext, FaceBox, LandmarkDetector, Landmarks

from . import FaceMeshParams
from .common import shipped_bias, upright_crop
from .mesh_ibug68 import IBUG68_FROM_MESH, IBUG68_MESH_RINGS, MESH_EYE_CORNERS
from .tflite import TFLiteModel, mediapipe_model_path

__all__ = ["MODEL_FILE", "MeshFit", "FaceMeshModel", "FaceMeshLandmarkDetector"]

MODEL_FILE = "face_landmark/face_landmark.tflite"
#: Crop side relative to the face's extent (MediaPipe's value for boxes and for landmarks).
_CROP_SCALE = 1.5


@dataclass
class MeshFit:
    """The 468 mesh points of one face in photo coordinates.

    Attributes:
        points: (468, 3) x, y in photo pixels, z depth in photo pixels (smaller is nearer).
        presence: probability in [0, 1] that the crop held a face (of several passes, the lowest).
    """

    points: np.ndarray
    presence: float

    @property
    def roll(self) -> float:
        """The face's roll in radians (see :attr:`FaceBox.roll`), from the outer eye corners."""
        right, left = self.points[MESH_EYE_CORNERS[0], :2], self.points[MESH_EYE_CORNERS[1], :2]
        return math.atan2(left[1] - right[1], left[0] - right[0])

    def crop(self) -> tuple[tuple[float, float], float]:
        """Centre and side of the square, turned by :attr:`roll`, that MediaPipe's tracker crops
        around these points."""
        cos, sin = math.cos(self.roll), math.sin(self.roll)
        upright = self.points[:, :2] @ np.array([[cos, -sin], [sin, cos]])  # turned by -roll
        lo, hi = upright.min(0), upright.max(0)
        mx, my = (lo + hi) / 2
        return (cos * mx - sin * my, sin * mx + cos * my), _CROP_SCALE * float((hi - lo).max())

    def box(self) -> FaceBox:
        """The axis-aligned box of the points (x, y), with the mesh's roll and presence as score."""
        lo, hi = self.points[:, :2].min(0), self.points[:, :2].max(0)
        return FaceBox(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), score=self.presence, roll=self.roll)


class FaceMeshModel:
    """The face-mesh network: crops a face upright and predicts its mesh (about 1 ms a pass)."""

    def __init__(self) -> None:
        self._model = TFLiteModel(mediapipe_model_path(MODEL_FILE))
        self.size = self._model.input_size[0]

    def fit(self, image: np.ndarray, box: FaceBox, passes: int) -> MeshFit:
        """(H, W, 3) uint8 RGB and a face box -> the mesh after ``passes`` passes (see the module doc).

        Its presence is the lowest of the passes': a face must be seen in the box's crop too
        (a false face can draw the second crop onto something face-like).
        """
        centre = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
        side = _CROP_SCALE * max(box.x1 - box.x0, box.y1 - box.y0)
        roll = box.roll
        presence = 1.0
        for _ in range(passes):
            fit = self._pass(image, centre, side, roll)
            (centre, side), roll = fit.crop(), fit.roll
            presence = min(presence, fit.presence)
        return replace(fit, presence=presence)

    def _pass(self, image: np.ndarray, centre: tuple[float, float], side: float, roll: float) -> MeshFit:
        crop = upright_crop(image, centre, side, roll, self.size)
        raw, logit = self._model(crop.image.astype(np.float32) / 255.0)
        points = np.reshape(raw, (-1, 3)).astype(np.float64)
        xy = crop.points_to_photo(points[:, :2])
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(np.reshape(logit, -1)[0], -100, 100))))
        return MeshFit(np.concatenate([xy, points[:, 2:] * crop.scale], axis=1), presence)


class FaceMeshLandmarkDetector(LandmarkDetector):
    """MediaPipe's 468-point face mesh, reported as the 68 iBUG landmarks with visibilities.

    About 1 ms per pass on one CPU core. Works on tilted faces (the crop follows the roll) and
    on turned ones; jaw points are fixed points of the face (see :mod:`.mesh_ibug68`), so on a
    turned head the far side's are hidden and get a low confidence.
    """

    def __init__(self, params: FaceMeshParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.model = FaceMeshModel()
        self.bias = shipped_bias("face-mesh", params.correct_bias)

    def detect(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """(H, W, 3) uint8 RGB and a face box -> (68, 2) float32 pixel coordinates (x, y)."""
        return self.locate(image, box).points

    def locate(self, image: np.ndarray, box: FaceBox) -> Landmarks:
        """(H, W, 3) uint8 RGB and a face box -> the 68 landmarks and their visibility (moved by
        the detector's measured bias with ``correct_bias``)."""
        fit = self.mesh(image, box)
        confidence = self._visibility(fit.points) * fit.presence
        points = fit.points[list(IBUG68_FROM_MESH), :2]
        if self.bias is not None:
            points = self.bias.correct(points)
        return Landmarks(points=points.astype(np.float32), confidence=confidence.astype(np.float32))

    def mesh(self, image: np.ndarray, box: FaceBox) -> MeshFit:
        """(H, W, 3) uint8 RGB and a face box -> the face's 468 mesh points."""
        return self.model.fit(to_rgb8(image), box, self.params.passes)

    def _visibility(self, mesh: np.ndarray) -> np.ndarray:
        """(68,) in [0, 1]: how squarely each landmark's mesh surface faces the camera."""
        facing = np.degrees(np.arccos(np.clip(-_surface_normals(mesh)[:, 2], -1.0, 1.0)))  # 0: faces it
        low, high = self.params.visible_angle, self.params.hidden_angle
        t = np.clip((high - facing) / (high - low), 0.0, 1.0)
        return t * t * (3 - 2 * t)


def _surface_normals(mesh: np.ndarray) -> np.ndarray:
    """(68, 3) unit normals of the mesh surface at the 68 landmarks' mesh points, out of the face.

    The plane through each point and its ring of neighbours gives the normal, oriented away from
    a point inside the head (behind the mesh's centre by half the face's size).
    """
    size = float(np.ptp(mesh[:, 0]) + np.ptp(mesh[:, 1])) / 2
    inside = mesh.mean(axis=0) + np.array([0.0, 0.0, size / 2])
    normals = np.empty((len(IBUG68_FROM_MESH), 3))
    for i, (index, ring) in enumerate(zip(IBUG68_FROM_MESH, IBUG68_MESH_RINGS)):
        patch = mesh[[index, *ring]]
        normal = np.linalg.svd(patch - patch.mean(axis=0))[2][-1]
        normals[i] = normal if normal @ (mesh[index] - inside) > 0 else -normal
    return normals
