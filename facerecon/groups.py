"""Names of the parameter groups the core itself declares (pure Python, read by recipe validation).

Components declare their own groups (see :mod:`facerecon.layout`); the camera's are the core's.
"""
from __future__ import annotations

__all__ = ["CAMERA_GROUPS", "GROUP_ALIASES"]

#: The camera's groups: name -> one-line doc.
CAMERA_GROUPS: dict[str, str] = {
    "rotation": "head rotation (Euler angles in radians, R = Rz·Ry·Rx, when optimised)",
    "translation": "head translation in mm (optimised in dm)",
    "focal": "focal length in pixels (optimised as its logarithm)",
}

#: Names that stand for several groups in recipes.
GROUP_ALIASES: dict[str, tuple[str, ...]] = {
    "pose": ("rotation", "translation"),
}
