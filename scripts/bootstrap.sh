#!/usr/bin/env bash
# Install ltrr (once per change of pyproject.toml) and run Python with the given arguments.
# Uses the active virtual environment, or creates .venv at the repo root when none is active.
# torch is installed first and pinned (the CPU wheel), so the resolver never pulls a CUDA build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ -n "${VIRTUAL_ENV:-}" ]; then
  env_dir="$VIRTUAL_ENV"
else
  env_dir="$root/.venv"
  [ -x "$env_dir/bin/python" ] || python3 -m venv "$env_dir"
fi
py="$env_dir/bin/python"
stamp="$env_dir/.ltrr-installed"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing into $env_dir" >&2
  "$py" -m pip install -q "torch==${LTRR_TORCH_VERSION:-2.13.0}" >&2
  "$py" -m pip install -q "torch==${LTRR_TORCH_VERSION:-2.13.0}" -e ".[cpu,test,onnx,bench]" >&2
  echo "$want" > "$stamp"
fi
exec "$py" "$@"
