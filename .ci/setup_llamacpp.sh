#!/usr/bin/env bash
# llama.cpp's OpenAI-compatible server for the openai backend tests (tests/backends/conftest.py starts and stops it).
# llama-cpp-python 0.3.16 builds from source (about 4 minutes on 2 cores; 0.3.36 builds but crashes here). It adds
# only server packages (fastapi, uvicorn, ...) and leaves torch, numpy and transformers alone; it is checked below.
set -euo pipefail
PY=${PYTHON:-python}
if "$PY" -c "import llama_cpp, uvicorn, fastapi; assert llama_cpp.__version__ == '0.3.16'" 2>/dev/null; then
  echo "llama-cpp-python[server] 0.3.16 already installed"
  exit 0
fi
before=$("$PY" -c "import torch, numpy, transformers; print(torch.__version__, numpy.__version__, transformers.__version__)")
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} "$PY" -m pip install -q "llama-cpp-python[server]==0.3.16"
after=$("$PY" -c "import torch, numpy, transformers; print(torch.__version__, numpy.__version__, transformers.__version__)")
if [ "$before" != "$after" ]; then
  echo "llama-cpp-python changed torch/numpy/transformers ($before -> $after)" >&2
  exit 1
fi
"$PY" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
