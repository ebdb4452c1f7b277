"""Texture decoder capacity and speed: how well and how fast ``upconv`` learns real albedo maps.

Paints 64 albedo maps (256², the network's texture size) as the synthetic faces are painted
(skin tone, brows, lips, eyes, nostrils; :func:`facerecon.evaluation.draw.draw_truth`), gives each
a fixed random 1000-d latent, and trains an ``upconv`` decoder per setting (:data:`SETTINGS`: the
defaults, and the earlier defaults they replaced) to output each map's offset from the maps' mean
(AdamW 1e-3, batch 16, 400 steps, L1 over the face's texels). Recorded per setting: the L1 error
over all 64 maps every 50 steps, seconds per training step, ms per map at inference (batch 1), and
how much the final maps show the 4×4 blocks of the pixel shuffle (:func:`block_edges`).
Results: ``decoder.json`` and ``decoder.png``.

    python -m benchmarks.bench_decoder [output_dir]
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from facerecon.io import atomic_write

#: name -> upconv parameters; the last is the default.
SETTINGS = {
    "shuffle 2, 3×3 head, full-rank": {"shuffle": 2, "head_kernel": 3, "project_rank": 0},
    "shuffle 4, 3×3 head, full-rank": {"shuffle": 4, "head_kernel": 3, "project_rank": 0},
    "shuffle 4, 1×1 head, rank 256 (default)": {},
}
MAPS, SIZE, LATENT, BATCH, STEPS, EVERY = 64, 256, 1000, 16, 400, 50


def _painted_maps() -> tuple[torch.Tensor, torch.Tensor]:
    """(MAPS, SIZE, SIZE, 3) linear diffuse maps and the (SIZE, SIZE) mask of the face's texels."""
    from facerecon.api import build
    from facerecon.evaluation.draw import draw_truth
    from facerecon.evaluation.settings import DrawSettings

    model = build("morphable_model", "bfm-lite", texture_size=SIZE)
    rng = np.random.default_rng(0)
    settings = replace(DrawSettings(), texture_size=SIZE)
    maps = np.stack([draw_truth(model, rng, settings).diffuse for _ in range(MAPS)])
    return torch.as_tensor(maps, dtype=torch.float32), model.texel_mask.reshape(SIZE, SIZE).cpu()


def _train(settings: dict, maps: torch.Tensor, mask: torch.Tensor, latents: torch.Tensor) -> dict:
    from facerecon.api import build

    torch.manual_seed(0)
    network = build("texture_decoder", "upconv", **settings).network(LATENT, SIZE, 7)
    network = network.to(memory_format=torch.channels_last)  # as the DeepNextFace network runs it
    mean = maps.mean(0)
    optimiser = torch.optim.AdamW(network.parameters(), lr=1e-3, weight_decay=1e-4)
    order = torch.Generator().manual_seed(1)
    curve, seconds = [], 0.0
    for step in range(1, STEPS + 1):
        chosen = torch.randint(0, MAPS, (BATCH,), generator=order)
        started = time.perf_counter()
        loss = (network(latents[chosen])[..., :3] + mean - maps[chosen])[:, mask].abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        seconds += time.perf_counter() - started
        if step % EVERY == 0:
            with torch.no_grad():
                error = (network.eval()(latents)[..., :3] + mean - maps)[:, mask].abs().mean()
            network.train()
            curve.append([step, round(float(error), 5)])
    network.eval()
    with torch.no_grad():
        edges = block_edges(network(latents)[..., :3] + mean, mask)
        network(latents[:1])
        started = time.perf_counter()
        for index in range(10):
            network(latents[index:index + 1])
        inference = (time.perf_counter() - started) / 10
    return {"l1": curve, "block_edges": round(edges, 3), "seconds_per_step": round(seconds / STEPS, 4), "ms_per_map_batch1": round(1000 * inference, 2),
            "parameters": sum(p.numel() for p in network.parameters())}


def block_edges(maps: torch.Tensor, mask: torch.Tensor, block: int = 4) -> float:
    """How much (N, S, S, C) maps change across the edges of ``block``×``block`` texel blocks,
    relative to within them: the mean absolute difference of horizontally and vertically
    neighbouring face texels (both in ``mask`` (S, S)) that lie in different blocks, over that of
    neighbours in the same block. About 1 for maps without a block structure."""
    across, within = [], []
    for axis in (1, 2):
        difference = (maps.narrow(axis, 1, maps.shape[axis] - 1) - maps.narrow(axis, 0, maps.shape[axis] - 1)).abs()
        both = mask.narrow(axis - 1, 1, mask.shape[axis - 1] - 1) & mask.narrow(axis - 1, 0, mask.shape[axis - 1] - 1)
        last_of_block = torch.arange(maps.shape[axis] - 1) % block == block - 1
        edge = last_of_block.view(-1, 1) if axis == 1 else last_of_block.view(1, -1)
        across.append(difference[:, both & edge])
        within.append(difference[:, both & ~edge])
    return float(torch.cat(across, 1).mean() / torch.cat(within, 1).mean())


def run(output_dir: Path) -> dict:
    """Train one decoder per setting; write decoder.json and decoder.png."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    maps, mask = _painted_maps()
    latents = torch.randn(MAPS, LATENT, generator=torch.Generator().manual_seed(2))
    results = {"mean_map_l1": round(float((maps - maps.mean(0))[:, mask].abs().mean()), 5),
               "painted_block_edges": round(block_edges(maps, mask), 3)}
    for name, settings in SETTINGS.items():
        print(f"   upconv {name}", flush=True)
        results[name] = _train(settings, maps, mask, latents)
        print(f"   {json.dumps(results[name])}", flush=True)
    with atomic_write(output_dir / "decoder.json") as handle:
        json.dump(results, handle, indent=2)
    _plot(results, output_dir / "decoder.png")
    return results


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5))
    for name in SETTINGS:
        entry = results[name]
        steps, errors = zip(*entry["l1"])
        axis.plot(steps, errors, marker="o", label=f"{name}: {entry['seconds_per_step']:.2f} s/step, "
                                                   f"{entry['ms_per_map_batch1']:.1f} ms/map, "
                                                   f"block edges {entry['block_edges']:.2f}")
    axis.axhline(results["mean_map_l1"], color="grey", linestyle="--", label="the maps' mean")
    axis.set_xlabel("training step (batch 16)")
    axis.set_ylabel("L1 error over the face's texels")
    axis.set_title(f"upconv learning {MAPS} painted 256² albedo maps")
    axis.legend(fontsize="small", loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results"))
