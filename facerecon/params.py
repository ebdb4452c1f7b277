"""Declaring component parameters: types, defaults, docs, limits and cross-field rules.

Every component declares a frozen dataclass of parameters; each field carries its documentation
and, for numbers, its limits through :func:`param`. The recipe validator reads these dataclasses
(types, defaults, docs, limits) before anything heavy is imported, and ``facerecon describe``
prints them.

Example::

    @dataclass(frozen=True)
    class BlurParams:
        sigma: float = param(1.0, "Standard deviation in pixels.", ge=0)
        size: int = param(0, "Odd side of the kernel; 0 = 2*ceil(3*sigma) + 1.", ge=0)

        def __post_init__(self):          # rules that involve several fields, or more than a range
            if self.size and self.size % 2 == 0:
                raise ParamError("size", f"must be odd (or 0), got {self.size}")

Every number in a recipe must be finite (no NaN, no inf) unless its field says ``finite=False``;
limits and finiteness apply to a number field and to every number inside a list, tuple or
mapping field. The validator reports every broken limit and every :class:`ParamError` of the
whole recipe at once, each with the ``file:line`` of the offending field.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Annotated, Any

from .errors import FaceReconError

__all__ = [
    "param", "REQUIRED", "Limits", "ParamError", "Component", "ParameterGroupName", "GroupName",
    "field_doc", "field_limits", "is_required",
]


class _Required:
    """Sentinel default for a parameter the recipe must set."""

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Limits:
    """Bounds of a numeric parameter (each optional) and whether it must be finite.

    Attributes:
        ge, gt, le, lt: value >= ge, > gt, <= le, < lt.
        finite: refuse NaN and ±inf (the default for every number).
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    finite: bool = True

    def problem(self, number: float) -> str | None:
        """What is wrong with ``number`` ("must be > 0, got -1"), or None when it is fine."""
        if isinstance(number, float) and math.isnan(number):
            return None if not self.finite else "must be a finite number, got nan"
        if isinstance(number, float) and math.isinf(number) and self.finite:
            return f"must be a finite number, got {number}"
        wanted = self.describe()
        ok = ((self.ge is None or number >= self.ge) and (self.gt is None or number > self.gt)
              and (self.le is None or number <= self.le) and (self.lt is None or number < self.lt))
        return None if ok else f"must be {wanted}, got {number}"

    def describe(self) -> str:
        """The bounds in words: ``>= 0``, ``> 0 and <= 1``; "" when unbounded."""
        parts = [f"{op} {_number(bound)}" for op, bound in
                 ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)) if bound is not None]
        return " and ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def param(
    default: Any = REQUIRED,
    doc: str = "",
    *,
    factory: Any = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    finite: bool = True,
) -> Any:
    """A dataclass field with documentation and, for numbers, limits.

    Args:
        default: default value; :data:`REQUIRED` (the default) makes the field mandatory (and
            keyword-only, so it may come after fields with defaults).
        doc: one-sentence description shown by ``facerecon describe`` and in error messages.
        factory: zero-argument callable for mutable defaults (lists, dicts).
        ge, gt, le, lt: bounds every number of the field must respect (>=, >, <=, <); for a
            list, tuple or mapping field, every number inside it.
        finite: False lets the field hold NaN or ±inf.
    """
    metadata: dict[str, Any] = {"doc": doc, "limits": Limits(ge=ge, gt=gt, le=le, lt=lt, finite=finite)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    if default is REQUIRED:
        # Keyword-only, so a required parameter may follow parameters with defaults.
        return dataclasses.field(kw_only=True, metadata={**metadata, "required": True})
    return dataclasses.field(default=default, metadata=metadata)


class ParamError(FaceReconError):
    """A parameter value that a params dataclass refuses, raised from its ``__post_init__``.

    The recipe validator reports it like a schema error, at the ``file:line`` of ``field``.

    Args:
        field: the offending field's name (or a dotted path inside it, ``groups.albedo``).
        message: what is wrong and what would be right ("must be odd, got 4").
    """

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Component:
    """Type marker for a parameter holding a component node (``{type: NAME, ...params}``).

    Use it in ``typing.Annotated``: ``Annotated[ComponentNode, Component("loss")]``.
    """

    kind: str


@dataclass(frozen=True)
class ParameterGroupName:
    """Type marker for the name of an optimisable parameter group (``pose``, ``identity``...).

    The validator checks every such name against the groups of the recipe: the camera's
    (:mod:`facerecon.groups`) and those the recipe's model and light declare.
    """


#: A parameter-group name; usable as a field type, a list item or a mapping key.
GroupName = Annotated[str, ParameterGroupName()]


def field_doc(f: dataclasses.Field) -> str:
    """The documentation string of a dataclass field declared with :func:`param`."""
    return f.metadata.get("doc", "")


def field_limits(f: dataclasses.Field) -> Limits:
    """The limits of a dataclass field (finite numbers only, when it declares none)."""
    return f.metadata.get("limits") or Limits()


def is_required(f: dataclasses.Field) -> bool:
    """Whether a dataclass field has no default."""
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
