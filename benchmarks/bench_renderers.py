"""Renderer speed: the path tracers (Mitsuba; redner where built) vs our rasterizer, 256×256.

The mesh is the ``bfm-lite`` mean face (~99k triangles; a ~100k-triangle UV sphere when the model
cannot be built) posed as NextFace initialises it (rotation (π, 0, 0), 500 mm away), focal 600 px
(as ``bench_rasterizer``), 256² texture maps, a 3-band SH light. Mitsuba traces 8 spp with one
bounce (direct light with self-shadowing, NextFace's setting) using ``prb``. Each timing runs
REPEATS times after one warm-up (reported as ``first_call_ms``: Mitsuba compiles its kernels then;
Dr.Jit caches them on disk, so later processes start faster); ``*_ms`` is the fastest run, which
shared machines disturb least, ``*_median_ms`` the median. "forward" runs without autograd;
"forward+backward" back-propagates the mean image and mask to vertices, light and the diffuse map.
Ratios are path tracer / rasterizer of the fastest runs.

    python benchmarks/bench_renderers.py [output_dir]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from benchmarks.common import bar_plot, devices, posed_face, render_timings
from facerecon.api import build, cache_dir
from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext
from facerecon.io import atomic_write
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian

SIZE, FOCAL, SPP, REPEATS = 256, 600.0, 8, 5


def _bench_device(device: torch.device) -> dict:
    context = BuildContext(device, cache_dir(), build=None)
    face = posed_face(device, 1, SIZE, FOCAL)
    lighting = SHLighting(SHParams(), context)
    light = lighting.initial(1)
    light[:, 1:4] = torch.tensor([-0.5, -0.8, 0.4], device=device)[:, None]
    renderers = {"rasterizer": build("renderer", "rasterizer", device=device.type)}
    for path_tracer in ("mitsuba", "redner"):
        try:
            renderers[path_tracer] = build("renderer", path_tracer, device=device.type, spp=SPP)
        except FaceReconError as exc:
            print(f"   {path_tracer} unavailable on {device.type}: {exc}", flush=True)
    results = {"mesh": face.name, "triangles": int(face.faces.shape[0]), "timings": []}
    for reflectance in (Lambertian(LambertianParams(), context), CookTorrance(CookTorranceParams(), context)):
        for renderer_name, renderer in renderers.items():
            seconds = render_timings(renderer, face, light, lighting, reflectance, device, REPEATS)
            entry = {
                "renderer": renderer_name, "reflectance": type(reflectance).__name__,
                "spp": None if renderer_name == "rasterizer" else SPP,
                **{f"{key}_ms": 1000.0 * value for key, value in seconds.items()},
            }
            entry["first_call_ms"] = entry.pop("first_ms")
            print(f"   {device.type} {entry}", flush=True)
            results["timings"].append(entry)
    reference = {t["reflectance"]: t for t in results["timings"] if t["renderer"] == "rasterizer"}
    for entry in results["timings"]:
        base = reference[entry["reflectance"]]
        entry["forward_ratio"] = entry["forward_ms"] / base["forward_ms"]
        entry["forward_backward_ratio"] = entry["forward_backward_ms"] / base["forward_backward_ms"]
    return results


def run(output_dir: Path) -> dict:
    """Time every available renderer on CPU (and CUDA when present); write renderers.json and .png."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    per_device = {device.type: _bench_device(device) for device in devices()}
    first = next(iter(per_device.values()))
    results = {
        "image_size": SIZE, "focal": FOCAL, "spp": SPP, "repeats": REPEATS, "mesh": first["mesh"],
        "triangles": first["triangles"], "torch_threads": torch.get_num_threads(), "devices": per_device,
    }
    with atomic_write(output_dir / "renderers.json") as handle:
        json.dump(results, handle, indent=2)
    rows = [(d, t) for d, r in per_device.items() for t in r["timings"]]
    bar_plot(output_dir / "renderers.png", [f"{d}\n{t['renderer']}\n{t['reflectance']}" for d, t in rows],
             [t["forward_ms"] for _, t in rows], [t["forward_backward_ms"] for _, t in rows],
             notes=["" if t["renderer"] == "rasterizer" else
                    f"×{t['forward_ratio']:.1f} / ×{t['forward_backward_ratio']:.1f}" for _, t in rows],
             ylabel=f"ms per image (fastest of {REPEATS})",
             title=f"{SIZE}×{SIZE}, {results['mesh']} ({results['triangles']} triangles), path tracers {SPP} spp")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
