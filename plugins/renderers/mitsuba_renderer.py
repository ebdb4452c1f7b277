"""``mitsuba``: Monte Carlo path tracing with Mitsuba 3 (Dr.Jit), differentiable through ``dr.wrap``.

Each batch item becomes a Mitsuba scene (:mod:`.mitsuba_scene` for the frames and conventions):

- the mesh (camera-frame vertices, the scene's shading normals, uvs) with redner's
  Cook-Torrance or Lambert written as a Dr.Jit BSDF (:mod:`.mitsuba_bsdf`), driven by the
  diffuse / specular / roughness maps as bilinear bitmap textures. With ``cull_backfaces``
  (default, like the rasterizer) the triangles facing away from the camera are left out, so
  they neither show nor cast shadows; without it they stay, black where seen (the BSDF is
  one-sided) — the rasterizer without culling shades them with their away-facing normals;
- an ``envmap`` emitter tabulating ``lighting.radiance`` (any lighting) on a lat-long grid of
  ``envmap_height × 2·envmap_height`` texels. Negative radiance (possible with SH) is clamped to
  0: a light source cannot be negative, and Mitsuba importance-samples the map by luminance;
- an OpenCV pinhole (focal and principal point of ``scene.camera``), ``spp`` samples per pixel
  (stratified by ``sampler``), box pixel filter, and the ``integrator`` with
  ``max_depth = bounces + 1`` (Mitsuba counts the camera segment): ``bounces = 1`` is direct light
  with self-shadowing, as NextFace renders.

``image`` is the path-traced radiance (noisy, unbiased; every item rendered gets the next seed)
blended with ``background`` by the film's alpha, which is also ``mask`` (the fraction of a
pixel's samples that hit the mesh). ``depth``, ``normals`` (interpolated shading normals), ``uv``
and ``triangle_id`` come from one extra ray per pixel centre (exact, no noise).

Gradients (torch autograd through ``dr.wrap``; Mitsuba's Path Replay Backpropagation): ``image``
is differentiable w.r.t. the light coefficients, the three texture maps, the shading normals and
the vertex positions through the interpolated position, normal and uv of every hit (interior
derivatives), not through silhouettes or shadow boundaries; ``integrator: prb_projective`` adds
those at a far higher cost (tens of seconds per face render on 2 cores); ``path`` renders without
gradients. ``mask``, ``depth``, ``normals``, ``uv`` carry no gradients.

Every batch item gets a fresh Mitsuba scene on every call, so a render's backward pass replays
its own scene even when other renders happened in between; building the BVH is a large part of
the forward cost (~0.1 s for 100k triangles on 2 CPU cores). The first render of a
configuration compiles Dr.Jit kernels (seconds; cached on disk in ``~/.drjit``).
"""
from __future__ import annotations

import functools

import torch

from facerecon.errors import FaceReconError
from facerecon.interfaces import Renderer, RenderOutput, Scene

from .mitsuba_bsdf import PLUGIN_NAME, register_bsdf
from .mitsuba_env import load_mitsuba
from .mitsuba_scene import TO_WORLD, bitmap_dict, envmap_directions, integrator_dict, pixel_rays, sensor_dict

__all__ = ["MitsubaRenderer"]


@functools.lru_cache(maxsize=8)
def _directions(height: int, device: torch.device) -> torch.Tensor:
    return envmap_directions(height, 2 * height, device)


class MitsubaRenderer(Renderer):
    """Path tracer on Mitsuba 3 (``llvm_ad_rgb`` on CPU, ``cuda_ad_rgb`` on CUDA); module docstring."""

    def __init__(self, params, context) -> None:
        super().__init__(params, context)
        load_mitsuba(torch.device(context.device).type)  # fail at build time, saying what is missing
        self._renders = 0

    def render(self, scene: Scene) -> RenderOutput:
        """Path-trace ``scene`` to (B, camera.height, camera.width, ·) images (module docstring)."""
        mesh, camera = scene.mesh, scene.camera
        device = mesh.vertices.device
        backend = load_mitsuba(device.type)
        lambertian, min_roughness = self._reflectance_mode(scene.reflectance)
        batch, height, width = mesh.vertices.shape[0], int(camera.height), int(camera.width)
        wants_grad = torch.is_grad_enabled() and any(
            t.requires_grad for t in (mesh.vertices, mesh.normals, scene.light, scene.textures.diffuse,
                                      scene.textures.specular, scene.textures.roughness)
        )
        if wants_grad and self.params.integrator == "path":
            raise FaceReconError("the mitsuba integrator 'path' renders without gradients; use 'prb'")

        faces = mesh.faces.to(device=device, dtype=torch.int32).contiguous()
        uvs = mesh.uvs.to(device=device, dtype=torch.float32)
        texcoords = torch.stack([uvs[:, 0], 1.0 - uvs[:, 1]], dim=-1).contiguous()
        envmaps = self._envmaps(scene, batch)
        focal = camera.focal.detach().float().expand(batch)
        centre = camera.centre().detach().float().expand(batch, 2)
        maps = [getattr(scene.textures, name).float().expand(batch, -1, -1, -1)
                for name in ("diffuse", "specular", "roughness")]

        items = []
        for b in range(batch):
            kept = self._kept_triangles(mesh.vertices[b].detach(), faces)
            items.append(self._render_item(
                backend, mesh.vertices[b].float(), mesh.normals[b].float(), faces, kept, texcoords,
                [m[b] for m in maps], envmaps[b], lambertian, min_roughness,
                width, height, float(focal[b]), (float(centre[b, 0]), float(centre[b, 1])),
            ))
        image, mask, depth, normals, uv, triangle_id = (torch.stack(t) for t in zip(*items))
        background = torch.tensor(self.params.background, device=device, dtype=image.dtype)
        image = image + (1.0 - mask)[..., None] * background
        return RenderOutput(image=image, mask=mask, depth=depth, normals=normals, uv=uv, triangle_id=triangle_id)

    # -- pieces --------------------------------------------------------------------------------

    @staticmethod
    def _reflectance_mode(reflectance) -> tuple[bool, float]:
        """(lambertian, min_roughness) of the BSDF matching ``reflectance``."""
        if reflectance.brdf == "lambert":
            return True, 1e-3
        if reflectance.brdf == "redner-cook-torrance":
            return False, float(reflectance.params.min_roughness)
        raise FaceReconError(
            f"the mitsuba renderer implements the 'lambert' and 'redner-cook-torrance' BRDFs (reflectances "
            f"'lambertian' and 'cook-torrance'), not {reflectance.brdf or type(reflectance).__name__!r}"
        )

    def _envmaps(self, scene: Scene, batch: int) -> torch.Tensor:
        """(B, He, We + 2, 3) Mitsuba envmap data: clamped radiance plus the wrap-around halo columns."""
        height = self.params.envmap_height
        light = scene.light.float().expand(batch, -1, -1)
        dirs = _directions(height, light.device)
        radiance = scene.lighting.radiance(light, dirs.reshape(1, -1, 3).expand(batch, -1, -1))
        env = radiance.clamp(min=0.0).reshape(batch, height, 2 * height, 3)
        return torch.cat([env[:, :, -1:], env, env[:, :, :1]], dim=2).contiguous()

    def _kept_triangles(self, vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """(F',) indices of the triangles put in the scene: those facing the camera with ``cull_backfaces``.

        A triangle faces the camera when its normal (counter-clockwise winding) points towards the
        camera centre, the rasterizer's test.
        """
        if not self.params.cull_backfaces:
            return torch.arange(faces.shape[0], device=faces.device)
        corners = vertices[faces.long()]  # (F, 3, 3)
        normals = torch.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], dim=-1)
        return ((normals * corners[:, 0]).sum(-1) < 0).nonzero().squeeze(1)

    def _render_item(self, backend, vertices, normals, faces, kept, texcoords, maps, envmap, lambertian, min_roughness,
                     width, height, focal, principal):
        """Render one item (the ``kept`` triangles of ``faces``) -> image (H, W, 3), mask, depth (H, W),
        normals (H, W, 3), uv, triangle_id (an index into ``faces``)."""
        faces = faces[kept]
        mi, dr = backend.mi, backend.dr
        register_bsdf(mi, dr)
        seed = self.params.seed + self._renders
        self._renders += 1
        projective = self.params.integrator == "prb_projective"
        # The projective integrator draws its own (non-square) sample counts: no stratification.
        sampler = "independent" if projective else self.params.sampler
        sensor = mi.load_dict(sensor_dict(mi, width, height, focal, principal, self.params.spp, sampler,
                                          sample_border=projective))
        # Static inputs, converted outside the wrapped function (no gradients).
        faces_mi = mi.UInt32(faces.reshape(-1))
        texcoords_mi = mi.Float(texcoords.reshape(-1))
        envmap_real = envmap[:, 1:-1].detach().cpu().numpy()
        built = {}

        @dr.wrap(source="torch", target="drjit")
        def trace(positions, shading_normals, diffuse, specular, roughness, env):
            bsdf = mi.load_dict({
                "type": PLUGIN_NAME, "lambertian": lambertian, "min_roughness": min_roughness,
                "diffuse": bitmap_dict(mi, dr.detach(diffuse)),
                "specular": bitmap_dict(mi, dr.detach(specular)),
                "roughness": bitmap_dict(mi, dr.detach(roughness)),
            })
            props = mi.Properties()
            props["bsdf"] = bsdf
            shape = mi.Mesh("face", vertices.shape[0], faces.shape[0], props=props,
                            has_vertex_normals=True, has_vertex_texcoords=True)
            shape_params = mi.traverse(shape)
            shape_params["vertex_positions"] = positions.array
            shape_params["vertex_normals"] = shading_normals.array
            shape_params["vertex_texcoords"] = texcoords_mi
            shape_params["faces"] = faces_mi
            shape_params.update()
            emitter = mi.load_dict({"type": "envmap", "bitmap": mi.Bitmap(envmap_real),
                                    "to_world": mi.ScalarTransform4f(TO_WORLD)})
            mi_scene = mi.load_dict({
                "type": "scene", "integrator": integrator_dict(self.params.integrator, self.params.bounces),
                "face": shape, "light": emitter,
            })
            params = mi.traverse(mi_scene)
            params["light.data"] = env
            for name, value in (("diffuse", diffuse), ("specular", specular), ("roughness", roughness)):
                key = f"face.bsdf.{name}.data"
                if key in params:
                    params[key] = value
            params.update()
            built["scene"] = mi_scene
            return mi.render(mi_scene, params, sensor=sensor, spp=self.params.spp, seed=seed)

        rgba = trace(vertices.contiguous(), normals.contiguous(), *(m.contiguous() for m in maps), envmap)
        depth, normal_map, uv, triangle_id = self._geometry(backend, built["scene"], width, height, focal, principal,
                                                            vertices.device)
        triangle_id = torch.where(triangle_id >= 0, kept.to(triangle_id.device)[triangle_id.clamp(min=0)], triangle_id)
        return rgba[..., :3], rgba[..., 3], depth, normal_map, uv, triangle_id

    @staticmethod
    def _geometry(backend, mi_scene, width, height, focal, principal, device):
        """Depth, shading normal, uv and triangle id at the pixel centres (one ray each, no gradients)."""
        mi, dr = backend.mi, backend.dr
        with dr.suspend_grad():
            si = mi_scene.ray_intersect(pixel_rays(mi, dr, width, height, focal, principal))
            valid = si.is_valid()
            zero = mi.Float(0.0)
            columns = [
                dr.select(valid, si.p.z, zero),
                *(dr.select(valid, c, zero) for c in (si.sh_frame.n.x, si.sh_frame.n.y, si.sh_frame.n.z)),
                dr.select(valid, si.uv.x, zero), dr.select(valid, 1.0 - si.uv.y, zero),
                dr.select(valid, mi.Float(si.prim_index), -1.0),
            ]
            dr.eval(*columns)  # one kernel for all of them
            packed = torch.stack([c.torch() for c in columns], dim=-1).to(device).reshape(height, width, -1)
        depth, normals, uv, tri = packed.split([1, 3, 2, 1], dim=-1)
        return depth[..., 0], normals, uv, tri[..., 0].round().long()
