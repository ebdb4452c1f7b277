"""A test-only plugin that extends facerecon the ways a third party would: it adds a component
kind (``tracker``, with a recipe slot), a component of it and a task that uses it, a lighting
that is not spherical harmonics, a model that does not declare its parameter groups, and a loss
with a rule across its parameters. Registration only; implementations live in
:mod:`facerecon_test_impl`."""
from __future__ import annotations

from dataclasses import dataclass

from facerecon import ParamError, hookimpl, param

IMPL = "facerecon_test_impl"


@dataclass(frozen=True)
class KalmanParams:
    """Parameters of the kalman tracker."""

    gain: float = param(0.5, "Blend of prediction and measurement.", ge=0, le=1)


@dataclass(frozen=True)
class TrackParams:
    """Parameters of the track task."""

    frames: int = param(3, "Frames to track.", ge=1)


@dataclass(frozen=True)
class QuadLightParams:
    """Parameters of a light with 4 coefficients per channel (not spherical harmonics)."""

    level: float = param(1.0, "Initial level.", ge=0)

    def parameter_groups(self) -> dict[str, str]:
        """The light's coefficients."""
        return {"light": "4 coefficients per channel"}


@dataclass(frozen=True)
class BlobParams:
    """A model that does not declare its parameter groups."""

    size: int = param(4, "Vertices.", ge=1)


@dataclass(frozen=True)
class WindowedParams:
    """A loss over a sliding window, which must have a centre."""

    weight: float = param(1.0, "Multiplier of the term.", ge=0)
    window: int = param(3, "Odd window side in pixels.", ge=1)

    def __post_init__(self) -> None:
        if self.window % 2 == 0:
            raise ParamError("window", f"must be odd (the window needs a centre pixel), got {self.window}")


@hookimpl
def facerecon_add_kinds(registry):
    """Add the tracker kind."""
    registry.add_kind("tracker", doc="follows a face from frame to frame", interface=f"{IMPL}:Tracker",
                      contract=f"{IMPL}:TrackerContract", slot="tracker")


@hookimpl
def facerecon_register_components(registry):
    """Register the extra components."""
    registry.register("tracker", "kalman", params=KalmanParams, factory=f"{IMPL}:Kalman", summary="a test tracker")
    registry.register("task", "track", params=TrackParams, factory=f"{IMPL}:Track", summary="tracks with the tracker",
                      requires=("tracker",))
    registry.register("lighting", "quad", params=QuadLightParams, factory=f"{IMPL}:Widget", summary="a 4-coefficient light")
    registry.register("morphable_model", "blob", params=BlobParams, factory=f"{IMPL}:Widget", summary="a model without groups")
    registry.register("loss", "windowed", params=WindowedParams, factory=f"{IMPL}:Term", summary="a windowed loss")


@dataclass(frozen=True)
class _Undocumented:
    """Parameters with a field that lacks its doc."""

    size: int = param(1, "Documented.")
    speed: float = param(2.0)


class _Sloppy:
    """Registers a component whose parameter has no doc."""

    @hookimpl
    def facerecon_register_components(self, registry):
        registry.register("renderer", "sloppy", params=_Undocumented, factory=f"{IMPL}:Widget", summary="sloppy")


class _SecondTracker:
    """Adds the tracker kind a second time."""

    @hookimpl
    def facerecon_add_kinds(self, registry):
        registry.add_kind("tracker", doc="again", interface=f"{IMPL}:Tracker")


class _SlotTaken:
    """Adds a kind whose recipe slot is already a recipe key."""

    @hookimpl
    def facerecon_add_kinds(self, registry):
        registry.add_kind("scheduler", doc="schedules", interface=f"{IMPL}:Tracker", slot="stages")


class _BadNeeds:
    """Registers a component that needs a component in a slot that does not exist."""

    @hookimpl
    def facerecon_register_components(self, registry):
        registry.register("loss", "needy", params=WindowedParams, factory=f"{IMPL}:Term", summary="needy",
                          needs={"lamp": ("sh",)})


sloppy = _Sloppy()
second_tracker = _SecondTracker()
slot_taken = _SlotTaken()
bad_needs = _BadNeeds()
