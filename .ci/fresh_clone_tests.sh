#!/usr/bin/env bash
# The README's test command (its pytest part) in a fresh clone of the committed tree, in a temporary folder with
# nothing beside it: no ../shared data, no EVALSUITE_DATA_DIR, no untracked or ignored files (.venv-vllm, caches).
# Imports resolve to the clone (PYTHONPATH first), not to the editable install of the checkout that CI set up.
# EVALSUITE_FRESH_MARKS picks the tests (default: the fast ones; .ci/run has already run the full suite).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # as a clone in a home folder: the sandbox tests run files of the clone as another user
git clone -q "$repo" "$tmp/evalsuite"
cd "$tmp/evalsuite"
unset EVALSUITE_DATA_DIR EVALSUITE_REQUIRE_DATA
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c 'import evalsuite, os, sys; p = os.path.realpath(evalsuite.__file__); sys.exit(0 if p.startswith(os.path.realpath(os.getcwd())) else f"fresh clone imports {p}, not the clone")'
echo "fresh clone at $(git rev-parse --short HEAD) in $PWD (no ../shared)"
python -m pytest -m "${EVALSUITE_FRESH_MARKS:-not slow and not gpu}" -q -p no:cacheprovider --timeout 1200
