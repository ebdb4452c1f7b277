"""Declaring component parameters.

Every component declares a frozen dataclass of parameters; each field carries its documentation
through :func:`param`. The recipe validator reads these dataclasses (types, defaults, docs) before
anything heavy is imported, and ``facerecon describe`` prints them.

Example::

    @dataclass(frozen=True)
    class RasterizerParams:
        image_size: int = param(256, "Output image width and height in pixels.")
"""
from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["param", "REQUIRED", "Component", "field_doc", "is_required"]


class _Required:
    """Sentinel default for a parameter the recipe must set."""

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return "REQUIRED"


REQUIRED: Any = _Required()


def param(default: Any = REQUIRED, doc: str = "", *, factory: Any = None) -> Any:
    """A dataclass field with documentation.

    Args:
        default: default value; :data:`REQUIRED` (the default) makes the field mandatory (and
            keyword-only, so it may come after fields with defaults).
        doc: one-sentence description shown by ``facerecon describe`` and in error messages.
        factory: zero-argument callable for mutable defaults (lists, dicts).
    """
    metadata = {"doc": doc}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    if default is REQUIRED:
        # Keyword-only, so a required parameter may follow parameters with defaults.
        return dataclasses.field(kw_only=True, metadata={**metadata, "required": True})
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Component:
    """Type marker for a parameter holding a component node (``{type: NAME, ...params}``).

    Use it in ``typing.Annotated``: ``Annotated[ComponentNode, Component("loss")]``.
    """

    kind: str


def field_doc(f: dataclasses.Field) -> str:
    """The documentation string of a dataclass field declared with :func:`param`."""
    return f.metadata.get("doc", "")


def is_required(f: dataclasses.Field) -> bool:
    """Whether a dataclass field has no default."""
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
