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
# The browser test drives Debian's chromium through Playwright; install it for test runs where we can (root with
# apt-get), once. Without it that one test is skipped with the reason; LTRR_NO_BROWSER=1 opts out.
if [[ " $* " == *" pytest "* ]] && [ -z "${LTRR_NO_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1 \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[bootstrap] installing Debian's chromium for the browser test" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "[bootstrap] chromium could not be installed: the browser test will be skipped" >&2
fi
exec "$py" "$@"
