"""``rasterizer``: a differentiable triangle rasterizer in pure PyTorch (CPU and CUDA).

Image formation, per pixel centre (x + 0.5, y + 0.5) of the camera's width × height:

1. Visibility (no gradients, :mod:`.raster_visibility`): vertices are projected with the OpenCV
   pinhole of ``scene.camera`` (:func:`facerecon.geometry.project`), a vectorised z-buffer picks
   the nearest triangle covering each pixel centre (only front faces with ``cull_backfaces``,
   the default; back faces are shaded with their own, away-facing normals otherwise). Triangles with a vertex
   closer than 1e-3 mm to the camera plane are dropped (no near-plane clipping).
2. Differentiable fragments: for each covered pixel the screen-space barycentrics of its visible
   triangle are recomputed with autograd from the projected vertices, made perspective-correct
   (b_i/z_i normalised) and used to interpolate position, normal (renormalised), uv and depth.
   Gradients thus reach vertices, pose and focal through the barycentrics (interior gradients,
   as in nvdiffrast's ``interpolate``).
3. Texturing: bilinear lookup of the diffuse, specular and roughness maps (``grid_sample``,
   ``align_corners=False``; u right, v up, texel row 0 at v = 1).
4. Shading: ``scene.reflectance.shade(scene.lighting, scene.light, n, wo, ρd, ρs, r)`` with
   wo = −normalize(surface point) (towards the camera centre). No shadows or interreflections.
5. Silhouettes: with ``antialias`` (default) pixels along the mesh outline are blended with the
   background by the analytic edge coverage of :mod:`.raster_antialias`, which gives the image and
   the mask gradients w.r.t. the silhouette position. Without it the mask is hard (0/1) and the
   silhouette gets no gradient. Occlusion edges inside the mesh never get silhouette gradients.

Outputs follow :class:`facerecon.interfaces.RenderOutput`; extras: ``diffuse_shading`` and
``specular_shading`` (the diffuse and specular radiance contributions returned by ``shade``,
albedo included), ``diffuse_albedo`` (the sampled ρd map).

Speed (``benchmarks/bench_rasterizer.py``, 256², the 99k-triangle bfm-lite face covering ~58 % of
the image, a shared 2-core CPU): forward + backward ≈ 60–75 ms per image with ``lambertian`` and
75–95 ms with ``cook-torrance``, at batch 1 and 8.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from facerecon.interfaces import Renderer, RenderOutput, Scene

from .raster_antialias import antialias, mesh_edges
from .raster_visibility import rasterize_triangle_ids, screen_barycentrics

__all__ = ["Rasterizer"]


class Rasterizer(Renderer):
    """Pure-PyTorch z-buffer rasterizer with perspective-correct interpolation and SH shading."""

    def __init__(self, params, context) -> None:
        super().__init__(params, context)
        self._topology: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def render(self, scene: Scene) -> RenderOutput:
        """Render ``scene`` to (B, camera.height, camera.width, ·) images (module docstring)."""
        mesh, camera = scene.mesh, scene.camera
        verts = mesh.vertices
        batch, device, dtype = verts.shape[0], verts.device, verts.dtype
        height, width = int(camera.height), int(camera.width)
        faces = mesh.faces.to(device=device, dtype=torch.long)
        screen = camera.project(verts)  # (B, V, 2), differentiable
        background = torch.tensor(self.params.background, device=device, dtype=dtype)

        with torch.no_grad():
            corners = verts.index_select(1, faces.reshape(-1)).view(batch, -1, 3, 3)
            normals = torch.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0], dim=-1)
            front = (normals * corners[:, :, 0]).sum(-1) < 0  # (B, F): facing the camera
            tri_ids = rasterize_triangle_ids(
                screen.detach(), verts[..., 2].detach(), faces, height, width,
                keep=front if self.params.cull_backfaces else None, chunk_size=self.params.chunk_size,
            )
            covered = tri_ids >= 0
            pix_b, pix_p = covered.nonzero(as_tuple=True)
            counts = torch.bincount(pix_b, minlength=batch)
            slot = torch.arange(pix_b.numel(), device=device) - (counts.cumsum(0) - counts)[pix_b]
            size = max(int(counts.max()) if pix_b.numel() else 0, 1)
            # Padded (B, N) layout for the batched shading. Padding repeats a covered pixel of the
            # same item (so every padded value is finite and its zero gradient stays zero).
            first = (counts.cumsum(0) - counts).clamp(max=max(pix_b.numel() - 1, 0))
            pad_p = pix_p[first] if pix_b.numel() else torch.zeros(batch, dtype=torch.long, device=device)
            pixel = pad_p[:, None].expand(batch, size).clone()
            tri = tri_ids.gather(1, pixel).clamp(min=0)
            tri[pix_b, slot] = tri_ids[pix_b, pix_p]
            pixel[pix_b, slot] = pix_p

        fragments = self._fragments(scene, screen, faces, tri, pixel, width)
        maps = self._sample_textures(scene, fragments["uv"])
        shaded = scene.reflectance.shade(
            scene.lighting, scene.light, fragments["normal"], fragments["wo"],
            maps["diffuse"], maps["specular"], maps["roughness"],
        )
        channels = [
            shaded["radiance"], fragments["depth"], fragments["normal"], fragments["uv"],
            shaded["diffuse"], shaded["specular"], maps["diffuse"],
        ]
        widths = [c.shape[-1] for c in channels]
        packed = torch.cat(channels, dim=-1)
        packed = packed.view(batch * size, -1).index_select(0, pix_b * size + slot)  # (N, C) covered pixels
        dense = packed.new_zeros(batch * height * width, packed.shape[-1])
        dense = dense.index_put((pix_b * height * width + pix_p,), packed)
        dense = dense.view(batch, height, width, -1)
        image, depth, normals, uv, diffuse_shading, specular_shading, albedo = dense.split(widths, dim=-1)

        hard = covered.view(batch, height, width).to(dtype)
        image = image + (1.0 - hard)[..., None] * background
        triangle_id = tri_ids.view(batch, height, width)
        mask = hard
        if self.params.antialias:
            edges, edge_faces = self._edges(faces)
            image, mask = antialias(
                image, hard, screen, edges, edge_faces, front, background,
                visible=front if self.params.cull_backfaces else None,
            )
        return RenderOutput(
            image=image,
            mask=mask,
            depth=depth[..., 0],
            normals=normals,
            uv=uv,
            triangle_id=triangle_id,
            extras={
                "diffuse_shading": diffuse_shading,
                "specular_shading": specular_shading,
                "diffuse_albedo": albedo,
            },
        )

    def _fragments(self, scene: Scene, screen, faces, tri, pixel, width) -> dict[str, torch.Tensor]:
        """Differentiable per-pixel attributes (B, N, ·) of the visible triangles."""
        mesh = scene.mesh
        batch, size = tri.shape
        verts_idx = faces.index_select(0, tri.view(-1)).view(batch, size * 3)  # (B, N·3)
        attributes = torch.cat([screen, mesh.vertices, mesh.normals], dim=-1)  # (B, V, 8)
        corners = attributes.gather(1, verts_idx[..., None].expand(-1, -1, attributes.shape[-1]))
        corners = corners.view(batch, size, 3, -1)
        uvs = mesh.uvs.to(device=screen.device, dtype=screen.dtype).index_select(0, verts_idx.view(-1))
        uvs = uvs.view(batch, size, 3, 2)

        centre = torch.stack(
            [torch.remainder(pixel, width), torch.div(pixel, width, rounding_mode="floor")], dim=-1
        ).to(screen.dtype) + 0.5
        b0, b1, b2, _ = screen_barycentrics(corners[..., 0, :2], corners[..., 1, :2], corners[..., 2, :2], centre)
        # Perspective correction: screen barycentrics interpolate 1/z linearly.
        weights = torch.stack([b0, b1, b2], dim=-1) / corners[..., 4].clamp(min=1e-6)
        total = weights.sum(-1, keepdim=True)
        weights = weights / torch.where(total.abs() > 1e-12, total, torch.ones_like(total))
        position = (weights[..., None] * corners[..., 2:5]).sum(2)
        normal = F.normalize((weights[..., None] * corners[..., 5:8]).sum(2), dim=-1, eps=1e-12)
        uv = (weights[..., None] * uvs).sum(2)
        return {
            "position": position,
            "depth": position[..., 2:3],
            "normal": normal,
            "uv": uv,
            "wo": -F.normalize(position, dim=-1, eps=1e-12),
        }

    def _sample_textures(self, scene: Scene, uv: torch.Tensor) -> dict[str, torch.Tensor]:
        """Bilinear lookup of the maps at (B, N, 2) uv -> diffuse, specular (B, N, 3), roughness (B, N, 1)."""
        textures = scene.textures
        batch = uv.shape[0]
        grid = torch.stack([2.0 * uv[..., 0] - 1.0, 1.0 - 2.0 * uv[..., 1]], dim=-1)[:, None]  # (B, 1, N, 2)
        names = ("diffuse", "specular", "roughness")
        maps = [getattr(textures, name).expand(batch, -1, -1, -1) for name in names]
        if len({m.shape[1:3] for m in maps}) == 1:
            maps = [torch.cat(maps, dim=-1)]
        samples = [
            F.grid_sample(m.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border", align_corners=False)
            for m in maps
        ]
        values = torch.cat([s[:, :, 0].transpose(1, 2) for s in samples], dim=-1)  # (B, N, 7)
        return dict(zip(names, values.split([3, 3, 1], dim=-1)))

    def _edges(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unique edges of ``faces`` and their triangles, cached per faces content."""
        order = torch.arange(faces.shape[0], device=faces.device)
        key = (faces.shape[0], str(faces.device), int(faces.sum()), int((faces[:, 0] * order).sum()))
        if key not in self._topology:
            if len(self._topology) > 8:
                self._topology.clear()
            self._topology[key] = mesh_edges(faces)
        return self._topology[key]
