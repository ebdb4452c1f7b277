"""``redner``: the legacy differentiable path tracer NextFace used (``BachiLi/redner``, via ``pyredner``).

redner has no wheel for Python ≥ 3.9: ``make redner REDNER_SRC=path/to/redner`` builds it from a
checkout of its source (``scripts/build_redner.py``). Without ``pyredner`` the plugin stays
registered, ``facerecon describe renderer redner`` says it is unavailable and how to fix that, and
building it raises a :class:`~facerecon.errors.FaceReconError` that says the same.

Scene translation, per batch item (one redner scene each):

- Frames: redner's world is our OpenCV camera frame. redner's camera looks along its local +z
  with +y *up* on the film, so ``cam_to_world = diag(1, −1, 1)``; the intrinsic matrix maps a
  camera direction to redner's film coordinates ([−1, 1] left to right, ±1/aspect top to bottom):

      K = [[2f/W, 0, 2cx/W − 1], [0, 2f/W, (H − 2cy)/W], [0, 0, 1]]

  which reproduces :func:`facerecon.geometry.project` (pixel (0, 0) covers [0, 1)²).
- Light: ``scene.lighting.environment_map(light, H_env, W_env)`` (row 0 up = −y, centre column
  along +z, see :mod:`facerecon.envmap`) clamped at 0 (redner's light sampling needs
  non-negative radiance). redner reads a direction ω through ``world_to_env`` as
  u = atan2(x, −z)/2π, v = acos(y)/π, so ``env_to_world = diag(−1, −1, 1)`` makes every texel
  light the direction our map assigns it: redner's incident radiance equals
  ``lighting.radiance(ω)`` (bilinear between texel centres). The map is not directly visible:
  empty pixels are 0.
- Material: ``lambertian`` → diffuse only; ``cook-torrance`` → redner's own Lambert + Blinn-Phong
  microfacet BRDF, which ours reproduces (``plugins/reflectance/cook_torrance.py``). Texture maps
  become ``pyredner.Texture`` (mip-mapped, wrapping at the borders); redner's v runs down the map,
  so the uvs given to redner are (u, 1 − v) and the texel rows keep our order (row 0 at v = 1).
- Integrator: ``max_bounces`` (1 = direct light only, as NextFace) with environment-map and BRDF
  sampling combined by MIS; ``spp`` samples per pixel in the forward and backward passes; batch
  item b of the k-th call uses seed ``seed + k·B + b`` (k = 0 always without ``reseed``).
- Device: CUDA scenes are traced on the CPU and the results moved back, unless ``gpu`` (a CUDA
  build of redner needs OptiX Prime; a CPU build would abort the process on GPU buffers).

Unlike the rasterizer, the path tracer sees self-shadowing (eye sockets, nose) and, with
``max_bounces`` > 1, interreflections; texture lookups wrap at the map borders instead of
clamping; negative albedos are clamped to 0; extreme grazing directions (cos < 1e-3) reflect
nothing. On a convex sphere both agree to the path tracer's noise (tests/plugins/test_redner.py).

Outputs: ``image`` radiance; ``mask`` redner's ``alpha`` (pixel coverage); ``depth`` (camera z),
``normals`` (shading normals), ``uv`` and ``extras['diffuse_albedo']`` are redner's per-sample
averages divided by the coverage; ``triangle_id`` redner's id of the last sample that hit (−1
where nothing did). Gradients flow through ``pyredner.RenderFunction`` (a torch autograd
function) to vertices and normals, uvs, the three texture maps, the light (through the
environment map), focal and principal point; silhouette (visibility) gradients, including those
of the mask, need ``primary_edge_sampling``.
"""
from __future__ import annotations

import itertools

import torch

from facerecon.errors import FaceReconError
from facerecon.interfaces import Renderer, RenderOutput, Scene
from plugins.renderers.redner_setup import INSTALL

__all__ = ["Redner", "intrinsic_matrix", "CAM_TO_WORLD", "ENV_TO_WORLD"]

#: redner camera (x right, y up, z forward) -> OpenCV camera frame.
CAM_TO_WORLD = ((1.0, 0.0, 0.0, 0.0), (0.0, -1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))
#: redner environment-map frame -> OpenCV camera frame (module docstring).
ENV_TO_WORLD = ((-1.0, 0.0, 0.0, 0.0), (0.0, -1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def _import_pyredner():
    """(pyredner, redner) or a FaceReconError saying what to install."""
    try:
        import pyredner
        import redner
    except ImportError as exc:  # also covers a redner.so built for another Python
        raise FaceReconError(f"The 'redner' renderer needs pyredner and its compiled 'redner' module, which "
                             f"do not import here ({exc}). {INSTALL}") from exc
    return pyredner, redner


def intrinsic_matrix(focal: torch.Tensor, centre: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """redner's intrinsic matrices for OpenCV pinholes (module docstring).

    Args:
        focal: (B,) pixels; centre: (B, 2) principal point in pixels.
    Returns:
        (B, 3, 3) float32, differentiable in focal and centre.
    """
    scale = 2.0 * focal / width
    zero, one = torch.zeros_like(focal), torch.ones_like(focal)
    rows = [
        torch.stack([scale, zero, 2.0 * centre[:, 0] / width - 1.0], -1),
        torch.stack([zero, scale, (height - 2.0 * centre[:, 1]) / width], -1),
        torch.stack([zero, zero, one], -1),
    ]
    return torch.stack(rows, dim=1).float()


class Redner(Renderer):
    """Path-traced renders through pyredner; one redner scene per batch item (module docstring)."""

    def __init__(self, params, context) -> None:
        super().__init__(params, context)
        self._pyredner, self._redner = _import_pyredner()
        self._pyredner.set_print_timing(False)
        self._calls = itertools.count()

    def render(self, scene: Scene) -> RenderOutput:
        """Render ``scene`` to (B, camera.height, camera.width, ·) images (module docstring)."""
        mesh, camera = scene.mesh, scene.camera
        batch, out_device = mesh.vertices.shape[0], mesh.vertices.device
        device = out_device if (out_device.type != "cuda" or self.params.gpu) else torch.device("cpu")
        diffuse_only = self._diffuse_only(scene.reflectance)
        envmap = scene.lighting.environment_map(scene.light, self.params.envmap_height, 2 * self.params.envmap_height)
        envmap = envmap.clamp(min=0.0).to(device)
        intrinsics = intrinsic_matrix(camera.focal.expand(batch), camera.centre().expand(batch, 2),
                                      camera.width, camera.height).to(device)
        faces = mesh.faces.to(device=device, dtype=torch.int32).contiguous()
        uvs = mesh.uvs.to(device=device, dtype=torch.float32)
        uvs = torch.stack([uvs[:, 0], 1.0 - uvs[:, 1]], dim=-1).contiguous()
        call = next(self._calls) if self.params.reseed else 0
        self._pyredner.set_device(device)  # pyredner's defaults (uv scales...) follow its global device
        images = []
        for b in range(batch):
            redner_scene = self._scene(scene, b, device, faces, uvs, envmap[min(b, envmap.shape[0] - 1)],
                                       intrinsics[b], diffuse_only)
            images.append(self._trace(redner_scene, device, seed=self.params.seed + call * batch + b))
        return self._outputs(torch.stack(images).to(out_device))

    def _diffuse_only(self, reflectance) -> bool:
        """True for ``lambertian``, False for ``cook-torrance``; other BRDFs are not redner's."""
        if reflectance.brdf == "lambert":
            return True
        if reflectance.brdf == "redner-cook-torrance":
            return False
        raise FaceReconError(
            f"the 'redner' renderer implements the 'lambert' and 'redner-cook-torrance' BRDFs (reflectances "
            f"'lambertian' and 'cook-torrance') only, not {reflectance.brdf or type(reflectance).__name__!r}"
        )

    def _scene(self, scene: Scene, b: int, device, faces, uvs, envmap, intrinsic, diffuse_only):
        """A pyredner.Scene of batch item ``b`` on ``device``."""
        pr = self._pyredner
        mesh, camera, textures = scene.mesh, scene.camera, scene.textures
        cam = pr.Camera(
            cam_to_world=torch.tensor(CAM_TO_WORLD), intrinsic_mat=intrinsic.cpu(),
            resolution=(int(camera.height), int(camera.width)), clip_near=1e-3,
        )

        def texture(maps: torch.Tensor) -> "pr.Texture":
            return pr.Texture(maps[min(b, maps.shape[0] - 1)].to(device=device, dtype=torch.float32).contiguous())

        material = pr.Material(
            diffuse_reflectance=texture(textures.diffuse),
            specular_reflectance=None if diffuse_only else texture(textures.specular),
            roughness=None if diffuse_only else texture(textures.roughness),
        )
        shape = pr.Shape(
            vertices=mesh.vertices[b].to(device=device, dtype=torch.float32).contiguous(),
            indices=faces, uvs=uvs,
            normals=mesh.normals[b].to(device=device, dtype=torch.float32).contiguous(),
            material_id=0,
        )
        light = pr.EnvironmentMap(
            pr.Texture(envmap.contiguous()), env_to_world=torch.tensor(ENV_TO_WORLD), directly_visible=False,
        )
        return pr.Scene(camera=cam, shapes=[shape], materials=[material], envmap=light)

    def _trace(self, redner_scene, device, seed: int) -> torch.Tensor:
        """(H, W, 16) radiance, alpha, position, shading normal, uv, diffuse albedo, triangle id."""
        ch = self._pyredner.channels
        sampler = getattr(self._redner.SamplerType, self.params.sampler)
        args = self._pyredner.RenderFunction.serialize_scene(
            scene=redner_scene,
            num_samples=self.params.spp,
            max_bounces=self.params.max_bounces,
            channels=[ch.radiance, ch.alpha, ch.position, ch.shading_normal, ch.uv, ch.diffuse_reflectance,
                      ch.triangle_id],
            sampler_type=sampler,
            use_primary_edge_sampling=self.params.primary_edge_sampling,
            use_secondary_edge_sampling=self.params.secondary_edge_sampling,
            device=device,
        )
        return self._pyredner.RenderFunction.apply(seed, *args)

    @staticmethod
    def _outputs(raw: torch.Tensor) -> RenderOutput:
        """Split (B, H, W, 16) redner channels into a RenderOutput (averages divided by coverage)."""
        radiance, alpha, position, normal, uv, albedo, tri = raw.split([3, 1, 3, 3, 2, 3, 1], dim=-1)
        covered = alpha > 0
        inverse = torch.where(covered, 1.0 / alpha.clamp(min=1e-8), torch.zeros_like(alpha))
        uv = uv * inverse
        uv = torch.where(covered, torch.cat([uv[..., :1], 1.0 - uv[..., 1:]], dim=-1), torch.zeros_like(uv))
        triangle_id = torch.where(covered[..., 0], tri[..., 0].detach().round().long(), -1)
        return RenderOutput(
            image=radiance,
            mask=alpha[..., 0],
            depth=(position[..., 2:3] * inverse)[..., 0],
            normals=torch.nn.functional.normalize(normal, dim=-1, eps=1e-12),
            uv=uv,
            triangle_id=triangle_id,
            extras={"diffuse_albedo": albedo * inverse},
        )
