"""Names of the optimisable parameter groups that recipes free, scale and delay.

The camera's groups are the same for every recipe; the model and the light add their own (their
params dataclasses declare them with ``parameter_groups()``). An alias stands for several groups.
Pure Python: the recipe validator reads these names before anything heavy is imported.
"""
from __future__ import annotations

from typing import Iterable

__all__ = ["CAMERA_GROUPS", "GROUP_ALIASES", "expand_groups"]

#: The camera's parameter groups, name -> what it holds.
CAMERA_GROUPS: dict[str, str] = {
    "rotation": "head rotation: Euler angles in radians (R = Rz·Ry·Rx)",
    "translation": "head translation in mm (optimised in dm, so one learning rate suits every group)",
    "focal": "focal length in pixels (optimised as its logarithm)",
}

#: A name standing for several groups.
GROUP_ALIASES: dict[str, tuple[str, ...]] = {
    "pose": ("rotation", "translation"),
}


def expand_groups(names: Iterable[str]) -> set[str]:
    """The group names ``names`` stand for, aliases replaced by their groups."""
    out: set[str] = set()
    for name in names:
        out.update(GROUP_ALIASES.get(name, (name,)))
    return out
