#!/usr/bin/env bash
# The GPU check: bf16 GRPO steps, flash-attention 2, DeepSpeed ZeRO-2 and ZeRO-3, the
# rewards' share of a step and peak memory, in one table (at most eight minutes on one
# GPU). Without a CUDA GPU, or with --dry-run, it checks the plumbing on CPU in seconds.
#   bench/gpu_check.sh [--dry-run] [--model PATH] [--steps N] [--out DIR] [--budget-s 480]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$here/../.venv/bin/python" ]]; then python="$here/../.venv/bin/python"; else python="python3"; fi
fi
exec "$python" "$here/gpu_check.py" "$@"
