#!/usr/bin/env bash
# Run every benchmark script in DIR (default: this folder) in its --smoke mode (seconds each); exit 1 if any crashes.
# .ci/run calls it, so a benchmark that no longer runs fails CI instead of rotting unnoticed.
set -u
dir="${1:-$(dirname "$0")}"
rc=0
for script in "$dir"/*.py; do
  name="$(basename "$script")"
  args=(--smoke)
  [ "$name" = "scale.py" ] && args=(--mock --smoke)   # the model mode needs minutes; the mock mode is the smoke
  start=$SECONDS
  if out="$(timeout 600 python "$script" "${args[@]}" 2>&1)"; then
    echo "ok $name ($((SECONDS - start)) s)"
  else
    echo "FAILED $name (exit $?):"
    echo "$out" | tail -20 | sed 's/^/    /'
    rc=1
  fi
done
exit "$rc"
