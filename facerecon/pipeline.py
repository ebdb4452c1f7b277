"""The batched face pipeline every task shares: coefficients in, rendered faces and loss inputs out.

::

    physical values (B) + FaceTargets (crop, landmarks, principal point)
        --decode-->  DecodedFaces (camera-frame vertices, textures, light, camera)
        --render-->  RenderOutput            (only when a loss needs pixels)
        --loss_inputs-->  LossInputs         (what every loss reads)

Where the values come from is the task's business: :class:`facerecon.parameters.LeafParameters`
for optimisation (``fit``, test-time refinement), a network's heads for ``reconstruct``/``train``.

Example::

    pipeline = FacePipeline(model, lighting, reflectance, renderer)
    values = pipeline.layout.initial(batch=4, device=device, focal=torch.full((4,), 512.0))
    targets = FaceTargets(image=crops, landmarks=points, principal=centres)
    inputs = pipeline(values, targets, render=True)      # LossInputs for B = 4 faces
    per_face = photometric(inputs)                        # (4,)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from .geometry import apply_pose, rotation_matrix, vertex_normals
from .interfaces import Camera, LossInputs, Mesh, RenderOutput, Scene, Textures
from .landmarks import N_LANDMARKS
from .layout import TEXTURE_CHANNELS, ParameterLayout, camera_layout
from .silhouette import SlidingContour

__all__ = ["FaceTargets", "DecodedFaces", "FacePipeline"]


@dataclass
class FaceTargets:
    """What a batch of faces is compared with, in the pixels of the square crops the task renders.

    Attributes:
        image: (B, S, S, 3) linear crops of the photos.
        principal: (B, 2) principal point of each photo's camera, in crop pixels.
        landmarks: (B, 68, 2) detected landmarks in crop pixels, or None.
        landmarks_confidence: (B, 68) the detector's confidence per landmark, or None.
    """

    image: torch.Tensor
    principal: torch.Tensor
    landmarks: torch.Tensor | None = None
    landmarks_confidence: torch.Tensor | None = None

    @property
    def batch(self) -> int:
        """B."""
        return int(self.image.shape[0])

    def select(self, index: torch.Tensor | slice) -> "FaceTargets":
        """The targets of some faces (``index`` into the batch)."""
        def pick(value):
            return None if value is None else value[index]

        return FaceTargets(pick(self.image), pick(self.principal), pick(self.landmarks), pick(self.landmarks_confidence))


@dataclass
class DecodedFaces:
    """Faces decoded from physical values.

    Attributes:
        camera: the crop camera (focal (B,), principal (B, 2), the crop's size).
        landmarks: (B, 68, 3) camera-frame 3D landmarks in mm.
        vertices: (B, V, 3) camera-frame vertices in mm, or None when only landmarks were decoded.
        textures: reflectance maps (statistical maps + offsets), or None when not decoded.
        base_textures: the statistical maps alone (detached), or None.
        light: (B, K, 3) lighting coefficients.
        values: the physical values decoded.
        triangles: (F, 3) the mesh's triangles (for :attr:`normals`).
    """

    camera: Camera
    landmarks: torch.Tensor
    vertices: torch.Tensor | None
    textures: Textures | None
    base_textures: Textures | None
    light: torch.Tensor
    values: dict[str, torch.Tensor]
    triangles: torch.Tensor | None = None

    @functools.cached_property
    def normals(self) -> torch.Tensor | None:
        """(B, V, 3) unit vertex normals, computed on first use (renders and exports need them; a
        network's estimate alone does not), or None without ``vertices``."""
        if self.vertices is None:
            return None
        return vertex_normals(self.vertices, self.triangles)


class FacePipeline:
    """Decodes coefficients into camera-frame faces, renders them and assembles loss inputs.

    Args:
        model: the morphable model; lighting, reflectance: the shading components; renderer: the
            default renderer (a stage may pass another one to :meth:`render`).
        focal: initial focal in pixels of the ``focal`` group (tasks usually set it per face).
        contour: ``fixed``: the jaw landmarks are the model's landmark vertices; ``sliding``: they
            slide to the face's silhouette as the head turns (:mod:`facerecon.silhouette`), as a
            detector's jaw contour does (use it with detected landmarks, not with landmarks
            projected from the model's own vertices).

    Attributes:
        layout: camera + model + lighting parameter groups (:mod:`facerecon.layout`).
    """

    def __init__(self, model: Any, lighting: Any, reflectance: Any, renderer: Any, focal: float | None = None,
                 contour: str = "fixed") -> None:
        if contour not in ("fixed", "sliding"):
            raise ValueError(f"contour must be 'fixed' or 'sliding', not {contour!r}")
        self.model, self.lighting, self.reflectance, self.renderer = model, lighting, reflectance, renderer
        self.contour = SlidingContour.from_model(model) if contour == "sliding" else None
        self.layout: ParameterLayout = (camera_layout(focal).merged(model.parameter_layout())
                                        .merged(lighting.parameter_layout()))

    @functools.cached_property
    def _landmark_points(self) -> torch.Tensor:
        """(68 [+ 17·K],) vertices decoded for the landmarks: the model's landmark vertices, then
        with ``contour: sliding`` the jaw contour's candidate lines (:class:`SlidingContour`)."""
        if self.contour is None:
            return self.model.landmarks
        return torch.cat([self.model.landmarks, self.contour.candidates.reshape(-1)])

    @functools.cached_property
    def face_triangles(self) -> torch.Tensor:
        """(F,) float: 1 for triangles whose three vertices are in the model's face region."""
        return self.model.face_mask[self.model.faces].all(-1).float()

    def camera(self, values: dict[str, torch.Tensor], targets: FaceTargets) -> Camera:
        """The crop camera of each face: its focal, the photo's principal point, the crop's size."""
        height, width = int(targets.image.shape[1]), int(targets.image.shape[2])
        return Camera(focal=values["focal"], width=width, height=height, principal=targets.principal)

    def decode(self, values: dict[str, torch.Tensor], targets: FaceTargets, geometry: bool = True,
               textures: bool = True) -> DecodedFaces:
        """Physical values -> camera-frame faces.

        Args:
            values: physical values of every group of :attr:`layout` (B leading).
            targets: supplies the crop size and principal point.
            geometry: decode every vertex (needed to render); False decodes only the landmarks.
                Vertex normals are computed when first read (:attr:`DecodedFaces.normals`).
            textures: decode the reflectance maps.
        """
        model = self.model
        rotation, translation = rotation_matrix(values["rotation"]), values["translation"]
        identity, expression = values["identity"], values["expression"]
        camera = self.camera(values, targets)
        if geometry:
            vertices = apply_pose(model.shape(identity, expression), rotation, translation)
            points = vertices[:, self._landmark_points]
        else:
            vertices = None
            points = apply_pose(model.shape(identity, expression, self._landmark_points), rotation, translation)
        landmarks = points[:, :N_LANDMARKS]
        if self.contour is not None:
            landmarks = landmarks.clone()
            candidates = points[:, N_LANDMARKS:].reshape(-1, *self.contour.candidates.shape, 3)
            landmarks[:, list(SlidingContour.JAW)] = self.contour.select(candidates, rotation, camera)
        maps = base = None
        if textures:
            base = model.textures(values["albedo"] if "albedo" in values else None, rotation.shape[0])
            maps = self.add_offsets(base, values.get("textures"))
            base = Textures(base.diffuse.detach(), base.specular.detach(), base.roughness.detach())
        return DecodedFaces(camera=camera, landmarks=landmarks, vertices=vertices,
                            textures=maps, base_textures=base, light=values["light"], values=values,
                            triangles=model.faces)

    @staticmethod
    def add_offsets(base: Textures, offsets: torch.Tensor | None) -> Textures:
        """Statistical maps plus the ``textures`` group's (B, T, T, 7) per-texel offsets."""
        if offsets is None:
            return base
        parts, start = {}, 0
        for name, count in TEXTURE_CHANNELS:
            parts[name] = getattr(base, name) + offsets[..., start:start + count]
            start += count
        return Textures(**parts)

    def scene(self, faces: DecodedFaces, camera: Camera | None = None) -> Scene:
        """The :class:`Scene` of decoded faces (geometry and textures must be decoded)."""
        if faces.vertices is None or faces.textures is None:
            raise ValueError("FacePipeline.scene needs faces decoded with geometry and textures")
        model = self.model
        mesh = Mesh(vertices=faces.vertices, faces=model.faces, uvs=model.uvs, normals=faces.normals)
        return Scene(mesh=mesh, camera=camera or faces.camera, textures=faces.textures, light=faces.light,
                     lighting=self.lighting, reflectance=self.reflectance)

    def render(self, faces: DecodedFaces, renderer: Any = None, camera: Camera | None = None) -> RenderOutput:
        """Render decoded faces with ``renderer`` (default: the pipeline's) through ``camera``
        (default: the crop camera)."""
        return (renderer or self.renderer).render(self.scene(faces, camera))

    def face_region(self, render: RenderOutput) -> torch.Tensor:
        """(B, H, W) float: 1 where the visible triangle belongs to the model's face region."""
        tri = render.triangle_id
        return self.face_triangles[tri.clamp(min=0)] * (tri >= 0).float()

    def loss_inputs(self, faces: DecodedFaces, targets: FaceTargets, render: RenderOutput | None = None) -> LossInputs:
        """Everything the losses read, for decoded faces and their targets."""
        coefficients = {name: value for name, value in faces.values.items()
                        if self.layout[name].owner != "camera" and name != "textures"}
        return LossInputs(
            target=targets.image,
            render=render,
            region=None if render is None else self.face_region(render),
            landmarks_target=targets.landmarks,
            landmarks_pred=faces.camera.project(faces.landmarks),
            landmarks_confidence=targets.landmarks_confidence,
            coefficients=coefficients,
            textures=faces.textures,
            base_textures=faces.base_textures,
            model=self.model,
        )

    def __call__(self, values: dict[str, torch.Tensor], targets: FaceTargets, render: bool = True,
                 renderer: Any = None, textures: bool = True) -> LossInputs:
        """One forward pass: decode, render when asked, and return the loss inputs."""
        faces = self.decode(values, targets, geometry=render, textures=textures or render)
        output = self.render(faces, renderer) if render else None
        return self.loss_inputs(faces, targets, output)
