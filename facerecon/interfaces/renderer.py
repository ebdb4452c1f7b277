"""Interface of renderers."""
from __future__ import annotations

from abc import ABC, abstractmethod

from .base import ComponentBase
from .data import RenderOutput, Scene

__all__ = ["Renderer"]


class Renderer(ComponentBase, ABC):
    """Draws a :class:`Scene` into a :class:`RenderOutput` of the camera's size.

    Renders must be differentiable with respect to vertices, textures, light, pose and focal
    wherever the implementation documents it.
    """

    @abstractmethod
    def render(self, scene: Scene) -> RenderOutput:
        """Render a batch; output images are (B, camera.height, camera.width, C)."""
