"""Names of the parameter groups the core itself declares (pure Python, read by recipe validation).

Components declare their own groups (see :mod:`facerecon.layout`, and ``parameter_groups()`` on
their params for validation); the camera's are the core's. An alias stands for several groups.
"""
from __future__ import annotations

from typing import Iterable

__all__ = ["CAMERA_GROUPS", "GROUP_ALIASES", "expand_groups"]

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


def expand_groups(names: Iterable[str]) -> set[str]:
    """The group names ``names`` stand for, aliases replaced by their groups."""
    out: set[str] = set()
    for name in names:
        out.update(GROUP_ALIASES.get(name, (name,)))
    return out
