"""Parameter layouts: the named groups of per-face unknowns that components declare.

Every task that reconstructs faces works on the same unknowns; only where their values come from
differs (leaf tensors an optimiser moves in ``fit``, a network's heads in ``reconstruct`` and
``train``). The components declare them:

- the core camera: ``rotation``, ``translation``, ``focal`` (:func:`camera_layout`);
- the morphable model: ``identity``, ``expression``, ``albedo`` (when it has albedo coefficients)
  and ``textures`` (per-texel offsets of the reflectance maps), see
  :meth:`facerecon.interfaces.MorphableModel.parameter_layout`;
- the lighting: ``light``, see :meth:`facerecon.interfaces.Lighting.parameter_layout`.

A :class:`ParameterGroup` gives each group's per-face shape, documentation, initial value, prior
and the :class:`Space` it is optimised or predicted in. Recipes name groups in ``stages.*.free``
(``pose`` is an alias of rotation + translation, see :data:`facerecon.groups.GROUP_ALIASES`),
priors read them, network heads are sized from them and exporters describe them.

Values come in two forms, both dicts keyed by group name with a leading batch dimension:

- **physical**: what the face decode consumes, e.g. rotation (B, 3, 3) matrices, translation
  (B, 3) mm, focal (B,) pixels, identity (B, Ki) standard deviations;
- **free**: what an optimiser moves or a network predicts, ``space.to_free(physical)``, e.g.
  Euler angles (B, 3), translation in dm, log focal.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from .errors import FaceReconError
from .geometry import euler_to_matrix, matrix_to_euler, matrix_to_sixd, sixd_to_matrix
from .groups import CAMERA_GROUPS, GROUP_ALIASES
from .registry import did_you_mean

__all__ = [
    "Space", "Linear", "Log", "EulerRotation", "SixDRotation", "ParameterGroup", "ParameterLayout",
    "camera_layout", "TEXTURE_CHANNELS",
]

#: Channels of the ``textures`` group's per-texel offsets, in order: (name, count).
TEXTURE_CHANNELS: tuple[tuple[str, int], ...] = (("diffuse", 3), ("specular", 3), ("roughness", 1))


class Space(ABC):
    """How a group's free value (optimised or predicted) maps to its physical value."""

    #: Short name shown in descriptions (``linear``, ``log``, ``euler``, ``6d``).
    name: str = ""

    def free_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-face shape of the free value for a group of physical per-face ``shape``."""
        return shape

    @abstractmethod
    def to_physical(self, free: torch.Tensor) -> torch.Tensor:
        """(B, *free_shape) -> (B, *shape)."""

    @abstractmethod
    def to_free(self, physical: torch.Tensor) -> torch.Tensor:
        """(B, *shape) -> (B, *free_shape); the inverse of :meth:`to_physical`."""


@dataclass(frozen=True)
class Linear(Space):
    """physical = scale · free (e.g. translation optimised in decimetres: scale 100 mm)."""

    scale: float = 1.0
    name: str = "linear"

    def to_physical(self, free: torch.Tensor) -> torch.Tensor:
        """scale · free."""
        return free * self.scale if self.scale != 1.0 else free

    def to_free(self, physical: torch.Tensor) -> torch.Tensor:
        """physical / scale."""
        return physical / self.scale if self.scale != 1.0 else physical


@dataclass(frozen=True)
class Log(Space):
    """physical = exp(free): positive quantities whose relative changes matter (focal)."""

    name: str = "log"

    def to_physical(self, free: torch.Tensor) -> torch.Tensor:
        """exp(free)."""
        return free.exp()

    def to_free(self, physical: torch.Tensor) -> torch.Tensor:
        """log(physical)."""
        return physical.log()


@dataclass(frozen=True)
class EulerRotation(Space):
    """Rotation matrices (B, 3, 3) from Euler angles (B, 3), R = Rz·Ry·Rx (the fit's choice)."""

    name: str = "euler"

    def free_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """(3,)."""
        return (3,)

    def to_physical(self, free: torch.Tensor) -> torch.Tensor:
        """Euler angles -> matrices."""
        return euler_to_matrix(free)

    def to_free(self, physical: torch.Tensor) -> torch.Tensor:
        """Matrices -> Euler angles."""
        return matrix_to_euler(physical)


@dataclass(frozen=True)
class SixDRotation(Space):
    """Rotation matrices from the continuous 6D representation (what networks predict well)."""

    name: str = "6d"

    def free_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """(6,)."""
        return (6,)

    def to_physical(self, free: torch.Tensor) -> torch.Tensor:
        """6D -> matrices (Gram-Schmidt)."""
        return sixd_to_matrix(free)

    def to_free(self, physical: torch.Tensor) -> torch.Tensor:
        """Matrices -> their first two columns."""
        return matrix_to_sixd(physical)


def _zeros(shape: tuple[int, ...]) -> Callable[[int, torch.device], torch.Tensor]:
    return lambda batch, device: torch.zeros((batch, *shape), device=device)


@dataclass(frozen=True)
class ParameterGroup:
    """One named group of per-face unknowns.

    Attributes:
        name: the name recipes use (``free: [identity]``).
        shape: per-face shape of the physical value (``(40,)``, ``(9, 3)``, ``(3, 3)``, ``()``).
        doc: one line for listings and errors.
        space: how the free value maps to the physical one.
        initial: ``initial(batch, device)`` -> (B, *shape) physical starting value (the prior
            mean); None means zeros.
        prior_std: standard deviation of a Gaussian prior around the initial value, in physical
            units (1.0 for coefficients in standard deviations); None when there is no such prior.
        owner: who declares it (``camera``, ``model``, ``lighting``).
    """

    name: str
    shape: tuple[int, ...]
    doc: str
    space: Space = field(default_factory=Linear)
    initial: Callable[[int, torch.device], torch.Tensor] | None = None
    prior_std: float | None = None
    owner: str = ""

    @property
    def size(self) -> int:
        """Number of free scalars per face."""
        return math.prod(self.space.free_shape(self.shape))

    def initial_value(self, batch: int, device: torch.device) -> torch.Tensor:
        """(B, *shape) physical initial value."""
        make = self.initial or _zeros(self.shape)
        value = make(batch, torch.device(device)).to(torch.float32)
        if tuple(value.shape) != (batch, *self.shape):
            raise ValueError(f"group {self.name!r}: initial value {tuple(value.shape)}, expected {(batch, *self.shape)}")
        return value


class ParameterLayout:
    """An ordered set of :class:`ParameterGroup`, plus aliases naming several groups at once.

    Args:
        groups: the groups, in order.
        aliases: alias -> group names (default: :data:`facerecon.groups.GROUP_ALIASES` restricted to
            the groups present).
    """

    def __init__(self, groups: Iterable[ParameterGroup], aliases: dict[str, tuple[str, ...]] | None = None) -> None:
        self.groups: dict[str, ParameterGroup] = {}
        for group in groups:
            if group.name in self.groups:
                raise ValueError(f"parameter group {group.name!r} is declared twice "
                                 f"({self.groups[group.name].owner} and {group.owner})")
            self.groups[group.name] = group
        source = GROUP_ALIASES if aliases is None else aliases
        self.aliases = {name: members for name, members in source.items()
                        if all(member in self.groups for member in members)}

    def __iter__(self):
        return iter(self.groups.values())

    def __contains__(self, name: str) -> bool:
        return name in self.groups

    def __getitem__(self, name: str) -> ParameterGroup:
        return self.groups[name]

    def names(self) -> list[str]:
        """Group names, in order."""
        return list(self.groups)

    def merged(self, other: "ParameterLayout") -> "ParameterLayout":
        """This layout followed by ``other``'s groups (names must not clash)."""
        return ParameterLayout([*self, *other], {**self.aliases, **other.aliases})

    def expand(self, names: Iterable[str], what: str = "parameter group") -> list[str]:
        """Group names with aliases replaced by their members, in order, without repeats.

        Raises:
            FaceReconError: an unknown name (with a did-you-mean and the known names).
        """
        out: list[str] = []
        for name in names:
            members = self.aliases.get(name, (name,))
            for member in members:
                if member not in self.groups:
                    known = [*self.groups, *self.aliases]
                    hint = did_you_mean(member, known)
                    raise FaceReconError(
                        f"Unknown {what} {member!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                        + f". The groups of this recipe's components: {', '.join(known)}."
                    )
                if member not in out:
                    out.append(member)
        return out

    def initial(self, batch: int, device: torch.device, **values: torch.Tensor) -> dict[str, torch.Tensor]:
        """Physical initial values of every group, with ``values`` (physical) overriding some."""
        unknown = sorted(set(values) - set(self.groups))
        if unknown:
            raise KeyError(f"no parameter group(s) {unknown} in this layout")
        return {name: (values[name].to(device=device, dtype=torch.float32) if name in values
                       else group.initial_value(batch, device))
                for name, group in self.groups.items()}

    def to_physical(self, free: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Free values -> physical values, group by group."""
        return {name: self.groups[name].space.to_physical(value) for name, value in free.items()}

    def to_free(self, physical: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Physical values -> free values, group by group."""
        return {name: self.groups[name].space.to_free(value) for name, value in physical.items()}

    def describe(self) -> dict[str, dict]:
        """Plain description (shape, space, prior, owner, doc) of every group, for results files."""
        return {name: {"shape": list(g.shape), "space": g.space.name, "prior_std": g.prior_std,
                       "owner": g.owner, "doc": g.doc} for name, g in self.groups.items()}


def camera_layout(focal: float | None = None) -> ParameterLayout:
    """The camera's groups: rotation (matrices, Euler angles when free), translation (mm, dm when
    free), focal (pixels, its log when free).

    The initial pose is NextFace's: rotation (π, 0, 0) — the model's y-up face seen by the
    OpenCV camera — and translation (0, 0, 500) mm; tasks replace it (e.g. by PnP on landmarks).

    Args:
        focal: initial focal in pixels (tasks usually set it per face); default 500.
    """
    start_focal = 500.0 if focal is None else float(focal)

    def rotation(batch: int, device: torch.device) -> torch.Tensor:
        return euler_to_matrix(torch.tensor([[math.pi, 0.0, 0.0]], device=device)).expand(batch, 3, 3).clone()

    def translation(batch: int, device: torch.device) -> torch.Tensor:
        return torch.tensor([[0.0, 0.0, 500.0]], device=device).expand(batch, 3).clone()

    def focal_value(batch: int, device: torch.device) -> torch.Tensor:
        return torch.full((batch,), start_focal, device=device)

    return ParameterLayout([
        ParameterGroup("rotation", (3, 3), CAMERA_GROUPS["rotation"], EulerRotation(), rotation, owner="camera"),
        ParameterGroup("translation", (3,), CAMERA_GROUPS["translation"], Linear(100.0), translation, owner="camera"),
        ParameterGroup("focal", (), CAMERA_GROUPS["focal"], Log(), focal_value, owner="camera"),
    ])
