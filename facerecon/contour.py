"""How far to trust the jaw contour landmarks (0-16) of a turned head.

A morphable model's jaw landmarks are fixed vertices. On a frontal face a detector's jaw
contour lies on them, but as the head turns the contour a detector reports (dlib's follows the
face's outline; MediaPipe's face-mesh points lie on the cheek near the ear) parts from those
vertices: by 50° of yaw the points on the side facing the camera lie 0.5-1 inter-ocular
distances from them, and they pull a fit's yaw back towards the camera by some 15°. So the
contour's weight falls from 1 to 0 as the head's yaw, estimated from the landmarks themselves
(:func:`estimated_yaw`), grows from :data:`CONTOUR_TRUSTED_YAW` to :data:`CONTOUR_UNTRUSTED_YAW`
degrees. The landmark loss weighs its points this way, and the fit reports its landmark error
with the same weights.
"""
from __future__ import annotations

import torch

from .landmarks import IBUG68_GROUPS, N_LANDMARKS, OUTER_EYE_CORNERS

__all__ = [
    "NOSE_DEPTH", "CONTOUR_TRUSTED_YAW", "CONTOUR_UNTRUSTED_YAW", "estimated_yaw", "contour_weights", "landmark_trust",
]

#: How far the nose tip (30) stands in front of the outer eye corners (36, 45), in half
#: outer-eye-corner distances: 1.04 on the mean face of bfm-lite (44.7 mm against 43.1 mm),
#: close to adult anthropometric averages.
NOSE_DEPTH = 1.04
#: Degrees of yaw up to which the jaw contour keeps its full weight.
CONTOUR_TRUSTED_YAW = 25.0
#: Degrees of yaw from which the jaw contour weighs nothing.
CONTOUR_UNTRUSTED_YAW = 45.0


def estimated_yaw(points: torch.Tensor) -> torch.Tensor:
    """(B, 68, 2) iBUG-68 pixel coordinates -> (B,) the heads' yaw in degrees, estimated from how
    far the nose tip lies off the middle of the outer eye corners, along the line between them
    (independent of roll and pitch; positive when the nose tip lies towards landmark 45).

    A nose tip ``NOSE_DEPTH`` half eye distances in front of the eye corners is seen
    ``NOSE_DEPTH · tan(yaw)`` half (foreshortened) eye distances off their middle.
    """
    right, left, nose = points[:, OUTER_EYE_CORNERS[0]], points[:, OUTER_EYE_CORNERS[1]], points[:, 30]
    axis = left - right
    # (nose - middle) · axis / |axis|, in half eye distances |axis| / 2
    offset = ((nose - (left + right) / 2) * axis).sum(-1) / (axis.pow(2).sum(-1) / 2).clamp(min=1e-12)
    return torch.rad2deg(torch.atan(offset / NOSE_DEPTH))


def contour_weights(points: torch.Tensor) -> torch.Tensor:
    """(B, 68, 2) detected landmarks in pixels -> (B, 68) weights: 1, except the jaw contour's
    (0-16), which fall smoothly from 1 at :data:`CONTOUR_TRUSTED_YAW` degrees of estimated yaw
    to 0 at :data:`CONTOUR_UNTRUSTED_YAW`."""
    weights = torch.ones(points.shape[0], N_LANDMARKS, dtype=points.dtype, device=points.device)
    span = CONTOUR_UNTRUSTED_YAW - CONTOUR_TRUSTED_YAW
    t = ((estimated_yaw(points).abs() - CONTOUR_TRUSTED_YAW) / span).clamp(0.0, 1.0)
    weights[:, list(IBUG68_GROUPS["jaw"])] = (1.0 - t * t * (3.0 - 2.0 * t))[:, None]
    return weights


def landmark_trust(points: torch.Tensor, confidence: torch.Tensor | None) -> torch.Tensor:
    """(B, 68, 2) detected landmarks and their (B, 68) confidences (or None: all 1) -> (B, 68)
    how far each point is to be trusted: its confidence (clamped to [0, 1]) times
    :func:`contour_weights`. What the landmark loss weighs a point by by default, apart from its
    group's weight."""
    weights = contour_weights(points)
    if confidence is not None:
        weights = weights * confidence.to(weights).clamp(0.0, 1.0)
    return weights
