"""Axis conventions and camera matrices for exported files.

Results live in the OpenCV camera frame (x right, y down, z forward, mm). Viewers and glTF want
y up with the camera looking along -z: flipping y and z (a rotation by pi about x, so triangle
winding is kept) turns one into the other.
"""
from __future__ import annotations

import math

import numpy as np

from facerecon.geometry import euler_to_matrix

__all__ = ["OPENCV_TO_YUP", "to_frame", "intrinsic_matrix", "extrinsic_matrix", "yfov"]

#: Maps OpenCV camera-frame vectors to the y-up / glTF camera frame (and back: it is its own inverse).
OPENCV_TO_YUP = np.diag([1.0, -1.0, -1.0])


def to_frame(vectors: np.ndarray, frame: str) -> np.ndarray:
    """(N, 3) camera-frame points or normals in ``frame`` (``camera`` or ``y-up``), float64."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if frame == "camera":
        return vectors
    if frame == "y-up":
        return vectors @ OPENCV_TO_YUP
    raise ValueError(f"unknown frame {frame!r}")


def intrinsic_matrix(focal: float, width: int, height: int) -> np.ndarray:
    """(3, 3) pinhole K with the principal point at the image centre.

    Pixel (0, 0) covers [0, 1)², as in :func:`facerecon.geometry.project`, so ``K @ v / z``
    gives the same pixel coordinates as the renderers (OpenCV's integer-centre convention
    would put the principal point at (width/2 - 0.5, height/2 - 0.5)).
    """
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def extrinsic_matrix(euler: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(4, 4) model(world)-to-camera transform [[R, t], [0, 1]] (v_cam = R·v + t)."""
    matrix = np.eye(4)
    matrix[:3, :3] = euler_to_matrix(euler)
    matrix[:3, 3] = np.asarray(translation, dtype=np.float64)
    return matrix


def yfov(focal: float, height: int) -> float:
    """Vertical field of view in radians of a pinhole with ``focal`` pixels over ``height`` pixels."""
    return 2.0 * math.atan(height / (2.0 * focal))
