"""Small, exact test scenes for plugin authors: a UV sphere, a tiny morphable model, loss inputs.

Everything here is real data in the framework's conventions (docs/architecture.md): model frame y up, +z out
of the face, mm; camera frame OpenCV (x right, y down, +z forward); NextFace's initial pose
rotation (π, 0, 0) and translation (0, 0, 500) put the model in front of the camera.

Example::

    from facerecon.api import build
    from facerecon.testing import scenes

    lighting, reflectance = build("lighting", "sh"), build("reflectance", "lambertian")
    scene = scenes.sphere_scene(lighting, reflectance, batch=2, image_size=64)
    out = my_renderer.render(scene)          # (2, 64, 64, 3) image, mask, depth...
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..geometry import apply_pose, project, vertex_normals
from ..interfaces import BuildContext, Camera, FaceResult, LossInputs, Mesh, MorphableModel, RenderOutput, Scene, Textures
from ..params import param

__all__ = [
    "INITIAL_ROTATION", "INITIAL_TRANSLATION", "SPHERE_RADIUS",
    "uv_sphere", "ibug68_template", "camera", "constant_textures", "sphere_mesh", "sphere_scene",
    "SphereModelParams", "SphereModel", "sphere_model", "face_result", "loss_inputs", "grad_leaves",
    "fibonacci_directions",
]

#: NextFace's initial pose: Euler angles (radians) and translation (mm).
INITIAL_ROTATION = (math.pi, 0.0, 0.0)
INITIAL_TRANSLATION = (0.0, 0.0, 500.0)
#: Radius in mm of :func:`sphere_mesh`.
SPHERE_RADIUS = 80.0


def uv_sphere(n_lat: int = 16, n_lon: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A unit UV sphere in the model frame, with a seam at the back of the head.

    Vertex (i, j) of the (n_lat+1) × (n_lon+1) grid has polar angle θ = π·i/n_lat from +y and
    longitude φ = 2π·j/n_lon − π around y, φ = 0 being +z (the front); u = j/n_lon, v = 1 − i/n_lat.
    Mirroring x -> −x maps vertex (i, j) to (i, n_lon − j). ``n_lon`` must be even so the front
    direction (0, 0, 1) is a vertex.

    Returns:
        vertices (V, 3) unit directions, faces (F, 3) long counter-clockwise seen from outside,
        uvs (V, 2), with V = (n_lat + 1)(n_lon + 1).
    """
    if n_lon % 2:
        raise ValueError("uv_sphere needs an even n_lon")
    theta = torch.linspace(0, math.pi, n_lat + 1, dtype=torch.float64)
    phi = torch.linspace(-math.pi, math.pi, n_lon + 1, dtype=torch.float64)
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    vertices = torch.stack([t.sin() * p.sin(), t.cos(), t.sin() * p.cos()], -1).reshape(-1, 3)
    u = torch.arange(n_lon + 1, dtype=torch.float64) / n_lon
    v = 1 - torch.arange(n_lat + 1, dtype=torch.float64) / n_lat
    uvs = torch.stack(torch.meshgrid(v, u, indexing="ij")[::-1], -1).reshape(-1, 2)
    i, j = (g.reshape(-1) for g in torch.meshgrid(torch.arange(n_lat), torch.arange(n_lon), indexing="ij"))
    a, b = i * (n_lon + 1) + j, (i + 1) * (n_lon + 1) + j
    upper = torch.stack([a, a + 1, b], -1)[i > 0]  # the pole rows have one triangle per quad
    lower = torch.stack([a + 1, b + 1, b], -1)[i < n_lat - 1]
    faces_t = torch.cat([upper, lower])
    # Orient every triangle outwards (the sphere is convex and centred at the origin).
    v0, v1, v2 = (vertices[faces_t[:, k]] for k in range(3))
    inward = (torch.cross(v1 - v0, v2 - v0, dim=-1) * (v0 + v1 + v2)).sum(-1) < 0
    faces_t[inward] = faces_t[inward][:, [0, 2, 1]]
    return vertices.float(), faces_t, uvs.float()


def ibug68_template() -> np.ndarray:
    """A schematic frontal iBUG-68 face in image axes (x right, y down), roughly in [-1, 1]².

    Point order and sides follow dlib: the subject's right eye (36-41) is on the image left.

    Returns:
        (68, 2) float64.
    """
    pts: list[tuple[float, float]] = []
    for k in range(17):  # jaw, image left (subject's right) to right, through the chin
        a = math.pi * k / 16
        pts.append((-math.cos(a), -0.2 + 1.2 * math.sin(a)))
    for x0 in (-0.8, 0.15):  # brows
        for k in range(5):
            x = x0 + 0.1625 * k
            pts.append((x, -0.6 - 0.08 * math.sin(math.pi * k / 4)))
    for k in range(4):  # nose bridge down to the tip (30)
        pts.append((0.0, -0.45 + 0.15 * k))
    for k in range(5):  # nostrils
        pts.append((-0.25 + 0.125 * k, 0.12))
    for cx, first in ((-0.4, math.pi), (0.4, math.pi)):  # eyes: outer/inner corner first, then top, then bottom
        for k in range(6):
            a = first - math.pi * k / 3
            pts.append((cx + 0.2 * math.cos(a), -0.35 - 0.08 * math.sin(a)))
    for k in range(12):  # outer lips from the image-left corner (48), over the top, back under
        a = math.pi - math.pi * k / 6
        pts.append((0.4 * math.cos(a), 0.5 - 0.15 * math.sin(a)))
    for k in range(8):  # inner lips
        a = math.pi - math.pi * k / 4
        pts.append((0.3 * math.cos(a), 0.5 - 0.05 * math.sin(a)))
    return np.asarray(pts)


def camera(batch: int = 1, width: int = 64, height: int | None = None, focal: float | None = None,
           device: Any = "cpu") -> Camera:
    """A pinhole camera; the default focal (1.6·width) frames :func:`sphere_mesh` at 500 mm in about half the image."""
    height = width if height is None else height
    f = 1.6 * width if focal is None else focal
    return Camera(focal=torch.full((batch,), float(f), device=device), width=width, height=height)


def constant_textures(batch: int = 1, size: int = 16, diffuse: tuple[float, float, float] = (0.6, 0.45, 0.35),
                      specular: float = 0.04, roughness: float = 0.4, device: Any = "cpu") -> Textures:
    """Uniform reflectance maps: diffuse/specular (B, T, T, 3), roughness (B, T, T, 1)."""
    shape = (batch, size, size)
    return Textures(
        diffuse=torch.tensor(diffuse, device=device).expand(*shape, 3).contiguous(),
        specular=torch.full((*shape, 3), specular, device=device),
        roughness=torch.full((*shape, 1), roughness, device=device),
    )


def sphere_mesh(batch: int = 1, radius: float = SPHERE_RADIUS, n_lat: int = 16, n_lon: int = 32,
                translation: tuple[float, float, float] = INITIAL_TRANSLATION, shift: float = 0.0,
                device: Any = "cpu", requires_grad: bool = False) -> Mesh:
    """A sphere of ``radius`` mm placed by the NextFace initial pose: its front faces the camera.

    Batch item b is moved by ``b * shift`` mm along x (so items differ). With ``requires_grad`` the vertices are a leaf tensor and the normals are computed from them,
    so gradients reach the vertices through positions and shading normals.
    """
    unit, faces, uvs = uv_sphere(n_lat, n_lon)
    model = (unit * radius).to(device).expand(batch, -1, -1)
    rotation = torch.tensor([INITIAL_ROTATION], device=device).expand(batch, 3)
    offsets = torch.arange(batch, device=device, dtype=torch.float32)[:, None] * torch.tensor([shift, 0.0, 0.0], device=device)
    vertices = apply_pose(model, rotation, torch.tensor([translation], device=device) + offsets)
    vertices = vertices.detach().clone().requires_grad_(requires_grad)
    faces = faces.to(device)
    return Mesh(vertices=vertices, faces=faces, uvs=uvs.to(device), normals=vertex_normals(vertices, faces))


def sphere_scene(lighting: Any, reflectance: Any, batch: int = 1, image_size: int = 64,
                 width: int | None = None, texture_size: int = 16, light: torch.Tensor | None = None,
                 shift: float = 0.0, device: Any = "cpu", requires_grad: bool = False) -> Scene:
    """A textured sphere in front of the camera, lit by ``lighting.initial(batch)`` (or ``light``).

    Args:
        lighting, reflectance: built components (e.g. ``build("lighting", "sh")``).
        image_size: image height; ``width`` defaults to it.
        shift: batch item b is moved by ``b * shift`` mm along x.
        requires_grad: make vertices, light and the three texture maps leaf tensors.
    """
    mesh = sphere_mesh(batch, shift=shift, device=device, requires_grad=requires_grad)
    textures = constant_textures(batch, texture_size, device=device)
    if requires_grad:
        textures = Textures(*(t.clone().requires_grad_() for t in (textures.diffuse, textures.specular, textures.roughness)))
    light = lighting.initial(batch).to(device) if light is None else light
    light = light.detach().clone().requires_grad_(requires_grad)
    return Scene(mesh=mesh, camera=camera(batch, width or image_size, image_size, focal=1.6 * image_size, device=device),
                 textures=textures, light=light, lighting=lighting, reflectance=reflectance)


def fibonacci_directions(n: int, device: Any = "cpu") -> torch.Tensor:
    """(n, 3) unit directions spread evenly over the sphere (each stands for a solid angle 4π/n)."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r = (1 - z * z).sqrt()
    golden = math.pi * (3 - math.sqrt(5))
    return torch.stack([r * (golden * i).cos(), r * (golden * i).sin(), z], -1).float().to(device)


@dataclass(frozen=True)
class SphereModelParams:
    """Parameters of the sphere morphable model (a test fixture with the real model's conventions)."""

    n_lat: int = param(24, "Latitude rings of the UV sphere.")
    n_lon: int = param(48, "Longitude segments of the UV sphere (even).")
    radii: tuple[float, float, float] = param((75.0, 95.0, 85.0), "Head half-width, half-height, half-depth in mm.")
    texture_size: int = param(32, "Side T of the texture maps.")


class SphereModel(MorphableModel):
    """A head-sized ellipsoid with the attributes of a real morphable model.

    Four identity components (widths along x, y, z and a front bulge, 5 mm per std) and two
    expression components (mouth region drops, cheeks puff out), all left-right symmetric; 68
    landmarks on the front from :func:`ibug68_template`; constant skin-like reflectance (no albedo
    coefficients).
    """

    def __init__(self, params: SphereModelParams, context: BuildContext) -> None:
        super().__init__(params, context)
        unit, faces, uvs = uv_sphere(params.n_lat, params.n_lon)
        device = context.device
        radii = torch.tensor(params.radii)
        self.mean = (unit * radii).to(device)
        x, y, z = unit.unbind(-1)
        front = z.clamp(min=0)
        zero = torch.zeros_like(x)
        identity = [torch.stack(c, -1) for c in ((x, zero, zero), (zero, y, zero), (zero, zero, z), (zero, zero, front**4))]
        mouth = front * (y < -0.2).float()
        cheeks = front * x.abs()
        expression = [torch.stack((zero, -mouth, zero), -1), torch.stack((cheeks * x.sign(), zero, zero), -1)]
        self.identity_basis = (torch.stack(identity) * 5.0).to(device)  # (4, V, 3) mm per std
        self.expression_basis = (torch.stack(expression) * 5.0).to(device)  # (2, V, 3)
        self.n_identity, self.n_expression, self.n_albedo = 4, 2, 0
        self.faces, self.uvs = faces.to(device), uvs.to(device)
        template = torch.from_numpy(ibug68_template()).float() * 0.8
        directions = torch.stack([template[:, 0], -template[:, 1], (1 - template.pow(2).sum(-1)).sqrt()], -1)
        self.landmarks = (directions @ unit.T).argmax(-1).to(device)
        self.face_mask = (z > 0.3).to(device)
        i, j = torch.div(torch.arange(unit.shape[0]), params.n_lon + 1, rounding_mode="floor"), torch.arange(unit.shape[0]) % (params.n_lon + 1)
        self.symmetry = (i * (params.n_lon + 1) + params.n_lon - j).to(device)
        t = params.texture_size
        rows, cols = torch.div(torch.arange(t * t), t, rounding_mode="floor"), torch.arange(t * t) % t
        self.texel_symmetry = (rows * t + (t - 1 - cols)).to(device)
        self.texture_size = t

    def shape(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, 4) identity and (B, 2) expression coefficients -> (B, V, 3) model-frame mm."""
        return (self.mean + torch.einsum("bk,kvc->bvc", identity, self.identity_basis)
                + torch.einsum("bk,kvc->bvc", expression, self.expression_basis))

    def textures(self, albedo: torch.Tensor | None, batch: int) -> Textures:
        """Constant skin-like maps (B, T, T, C); ``albedo`` must be None or (B, 0)."""
        if albedo is not None:
            batch = albedo.shape[0]
        return constant_textures(batch, self.texture_size, device=self.device)


def sphere_model(device: Any = "cpu", **params: Any) -> SphereModel:
    """Build a :class:`SphereModel` without a registry."""
    return SphereModel(SphereModelParams(**params), BuildContext(torch.device(device), Path("."), build=None))


def _disc(batch: int, size: int, radius: float, device: Any) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size, device=device) + 0.5, torch.arange(size, device=device) + 0.5, indexing="ij")
    inside = ((xs - size / 2) ** 2 + (ys - size / 2) ** 2) <= radius**2
    return inside.float().expand(batch, size, size).contiguous()


def face_result(name: str = "sphere", image_size: int = 64, texture_size: int = 16, seed: int = 0) -> FaceResult:
    """A complete :class:`FaceResult` of the sphere model (every optional field filled), for exporters."""
    rng = np.random.default_rng(seed)
    model = sphere_model(texture_size=texture_size)
    batch_vertices = model.shape(torch.zeros(1, 4), torch.zeros(1, 2))
    rotation, translation = torch.tensor([INITIAL_ROTATION]), torch.tensor([INITIAL_TRANSLATION])
    vertices = apply_pose(batch_vertices, rotation, translation)
    focal = 1.6 * image_size
    landmarks = project(vertices[:, model.landmarks], torch.tensor([focal]), image_size, image_size)[0].numpy()
    tex = model.textures(None, 1)
    yy, xx = np.mgrid[0:image_size, 0:image_size]
    image = np.stack([xx * 255 // image_size, yy * 255 // image_size, np.full_like(xx, 128)], -1).astype(np.uint8)
    mask = _disc(1, image_size, 0.25 * image_size, "cpu")[0].numpy()
    render = mask[..., None] * np.array([0.5, 0.35, 0.3], np.float32)
    return FaceResult(
        name=name,
        image=image,
        vertices=vertices[0].numpy(),
        faces=model.faces.numpy().astype(np.int64),
        uvs=model.uvs.numpy(),
        normals=vertex_normals(vertices, model.faces)[0].numpy(),
        diffuse=tex.diffuse[0].numpy(),
        specular=tex.specular[0].numpy(),
        roughness=tex.roughness[0].numpy(),
        focal=focal,
        rotation=np.array(INITIAL_ROTATION, np.float32),
        translation=np.array(INITIAL_TRANSLATION, np.float32),
        light=np.concatenate([np.full((1, 3), 3.5449077), np.zeros((8, 3))]).astype(np.float32),
        coefficients={"identity": np.zeros(4, np.float32), "expression": np.zeros(2, np.float32)},
        landmarks_detected=(landmarks + rng.normal(0, 1.0, landmarks.shape)).astype(np.float32),
        landmarks_fitted=landmarks.astype(np.float32),
        landmark_vertices=model.landmarks.numpy(),
        envmap=np.linspace(0.2, 1.0, 16 * 32 * 3, dtype=np.float32).reshape(16, 32, 3),
        renders={"render": render, "mask": mask, "diffuse_shading": mask[..., None].repeat(3, -1) * 0.8},
        losses={"landmarks": [float(v) for v in np.geomspace(100.0, 1.0, 20)],
                "photometric": [float(v) for v in np.geomspace(0.5, 0.05, 10)]},
        lighting={"type": "sh", "params": {"bands": 3},
                  "convention": "real spherical harmonics radiance, 3 bands, one column per RGB channel"},
        info={"model": "sphere", "seed": seed},
    )


def loss_inputs(model: MorphableModel | None = None, batch: int = 2, image_size: int = 32, light_coeffs: int = 9,
                device: Any = "cpu", seed: int = 0) -> LossInputs:
    """:class:`LossInputs` with every field set; every float input a loss may differentiate is a leaf.

    Random values are chosen so that no usual term sits at a minimum: the render differs from
    the target, predicted landmarks are off by a few pixels, coefficients are non-zero and
    texture maps stray outside [0, 1].

    Args:
        model: the morphable model (default: :func:`sphere_model`).
        light_coeffs: K of the (B, K, 3) ``coefficients["light"]``.
    """
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return (torch.rand(*shape, generator=gen) * (high - low) + low).to(device)

    def leaf(t: torch.Tensor) -> torch.Tensor:
        return t.detach().clone().requires_grad_()

    model = model or sphere_model(device=device)
    b, s = batch, image_size
    coverage = _disc(b, s, 0.3 * s, device)
    uv = torch.stack(torch.meshgrid(torch.linspace(0, 1, s), torch.linspace(1, 0, s), indexing="xy"), -1)
    render = RenderOutput(
        image=leaf(rand(b, s, s, 3) * coverage[..., None]),
        mask=leaf(coverage),
        depth=coverage * 420.0,
        normals=torch.tensor([0.0, 0.0, -1.0], device=device).expand(b, s, s, 3) * coverage[..., None],
        uv=uv.to(device).expand(b, s, s, 2) * coverage[..., None],
        triangle_id=torch.where(coverage > 0, 0, -1).long(),
        extras={"diffuse_shading": coverage[..., None].expand(b, s, s, 3).contiguous()},
    )
    centre = torch.tensor([s / 2, s / 2], device=device)
    template = torch.from_numpy(ibug68_template()).float().to(device) * 0.3 * s + centre
    landmarks_target = template.expand(b, 68, 2) + (rand(b, 68, 2) - 0.5)
    base = model.textures(None, b)
    textures = Textures(
        diffuse=leaf(base.diffuse + rand(*base.diffuse.shape, low=-0.3, high=0.6)),
        specular=leaf(base.specular + rand(*base.specular.shape, low=-0.1, high=0.2)),
        roughness=leaf((base.roughness + rand(*base.roughness.shape, low=-0.3, high=0.7)).clamp(min=0.05)),
    )
    light = torch.zeros(b, light_coeffs, 3, device=device)
    light[:, 0] = 1.0
    return LossInputs(
        target=rand(b, s, s, 3),
        render=render,
        region=coverage.clone(),
        landmarks_target=landmarks_target,
        landmarks_pred=leaf(landmarks_target + rand(b, 68, 2, low=-4.0, high=4.0)),
        landmarks_confidence=rand(b, 68, low=0.5, high=1.0),
        coefficients={
            "identity": leaf(rand(b, model.n_identity, low=-1.0, high=1.0)),
            "expression": leaf(rand(b, model.n_expression, low=-1.0, high=1.0)),
            "albedo": leaf(rand(b, model.n_albedo, low=-1.0, high=1.0)),
            "light": leaf(light + rand(b, light_coeffs, 3, low=-0.2, high=0.2)),
        },
        textures=textures,
        base_textures=base,
        model=model,
        extras={"truth": {"identity": rand(b, model.n_identity, low=-1.0, high=1.0),
                          "expression": rand(b, model.n_expression, low=-1.0, high=1.0),
                          "light": light + rand(b, light_coeffs, 3, low=-0.2, high=0.2)}},
    )


def grad_leaves(inputs: LossInputs) -> dict[str, torch.Tensor]:
    """The leaf tensors of ``inputs`` that require grad, by name (``render.image``, ``coefficients.light``...)."""
    found: dict[str, torch.Tensor] = {}
    candidates: dict[str, Any] = {
        "target": inputs.target, "region": inputs.region, "landmarks_pred": inputs.landmarks_pred,
        "landmarks_target": inputs.landmarks_target,
    }
    if inputs.render is not None:
        candidates.update({f"render.{k}": getattr(inputs.render, k) for k in ("image", "mask", "depth", "normals", "uv")})
    if inputs.textures is not None:
        candidates.update({f"textures.{k}": getattr(inputs.textures, k) for k in ("diffuse", "specular", "roughness")})
    candidates.update({f"coefficients.{k}": v for k, v in inputs.coefficients.items()})
    for name, value in candidates.items():
        if isinstance(value, torch.Tensor) and value.requires_grad and value.is_leaf:
            found[name] = value
    return found
