"""Initial head pose from 2D landmarks by Perspective-n-Point (as NextFace does)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from facerecon.geometry import euler_to_matrix, matrix_to_euler

__all__ = ["solve_pose"]


def solve_pose(
    model_points: np.ndarray, image_points: np.ndarray, focal: float, principal: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Pose that projects model landmarks onto image landmarks.

    Starts from NextFace's initial pose (rotation (π, 0, 0), translation (0, 0, 500) mm) and
    refines with OpenCV's iterative PnP.

    Args:
        model_points: (N, 3) model-frame points in mm.
        image_points: (N, 2) pixel coordinates (same continuous convention as the camera).
        focal: focal length in pixels; principal: principal point in pixels.
    Returns:
        (rotation (3,) Euler radians, translation (3,) mm).
    """
    k = np.array([[focal, 0, principal[0]], [0, focal, principal[1]], [0, 0, 1]], np.float64)
    rvec0, _ = cv2.Rodrigues(euler_to_matrix(np.array([math.pi, 0.0, 0.0])))
    tvec0 = np.array([[0.0], [0.0], [500.0]])
    ok, rvec, tvec = cv2.solvePnP(
        model_points.astype(np.float64), image_points.astype(np.float64), k, None,
        rvec0.copy(), tvec0.copy(), useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok or not np.all(np.isfinite(tvec)) or tvec[2, 0] <= 0:
        return np.array([math.pi, 0.0, 0.0]), tvec0[:, 0]
    matrix, _ = cv2.Rodrigues(rvec)
    return matrix_to_euler(matrix), tvec[:, 0]
