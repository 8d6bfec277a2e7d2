#!/usr/bin/env bash
# What a new user does, per Python: clone the committed tree into a `mktemp -d` folder left as created (mode 700),
# make a new virtualenv in a private folder under $HOME (beside pyenv, as in a container running as root), and run
# README.md's own commands, read out of it by .ci/readme_commands.py: pip resolves the newest allowed versions and
# nothing is reused from the machine's site-packages; no ../shared data, no EVALSUITE_DATA_DIR.
# EVALSUITE_FRESH_PYTHONS lists VERSION:full (README's set-up command, then its test command) or VERSION:fast
# (README's install, then the fast tests); default: 3.11 full, and the declared floor 3.10 and 3.12 fast.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
readme() { python3 "$repo/.ci/readme_commands.py" "$repo/README.md" "$1"; }
setup_cmd=$(readme setup)
test_cmd=$(readme test)
fast_cmd=${test_cmd/-m \"not gpu\"/-m \"not slow and not gpu\"}
[ "$fast_cmd" != "$test_cmd" ] || { echo "README's test command no longer says -m \"not gpu\"" >&2; exit 1; }
rc=0
dirs=()
trap 'rm -rf "${dirs[@]}"' EXIT

interpreter() {
  local v=$1 root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for p in "$root"/versions/"$v".*/bin/python"$v" "$(command -v "python$v" || true)"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 1
}

for entry in ${EVALSUITE_FRESH_PYTHONS:-3.11:full 3.10:fast 3.12:fast}; do
  version=${entry%%:*}
  mode=${entry##*:}
  py=$(interpreter "$version") || { echo "fresh clone: no Python $version on this machine" >&2; rc=1; continue; }
  clone_parent=$(mktemp -d)
  venv_parent=$(mktemp -d -p "$HOME" .evalsuite-ci-venv-XXXXXX)
  dirs+=("$clone_parent" "$venv_parent")
  git clone -q "$repo" "$clone_parent/evalsuite"
  "$py" -m venv "$venv_parent/venv"
  cmd=$([ "$mode" = full ] && echo "$setup_cmd; then $test_cmd" || echo "$fast_cmd")
  echo "fresh clone at $(git -C "$repo" rev-parse --short HEAD), Python $version ($mode), in $clone_parent" \
       "(mode $(stat -c %a "$clone_parent")), venv in $venv_parent: $cmd"
  (
    cd "$clone_parent/evalsuite"
    unset PYTHONPATH EVALSUITE_DATA_DIR EVALSUITE_REQUIRE_DATA EVALSUITE_REQUIRE_SLURM EVALSUITE_REQUIRE_FUSE PIP_USER
    export VIRTUAL_ENV="$venv_parent/venv" PATH="$venv_parent/venv/bin:$PATH"
    # explicit statuses: `set -e` does not act inside a subshell whose status `||` tests, so a failing test
    # command would otherwise be hidden by the pip freeze after it
    status=0
    if [ "$mode" = full ]; then
      time bash -c "$setup_cmd" || status=1
      [ "$status" -ne 0 ] || time bash -c "$test_cmd" || status=1
    else
      time bash -c "$cmd" || status=1
    fi
    echo "--- pip freeze (Python $version)"
    pip freeze --exclude-editable
    exit "$status"
  ) || { echo "fresh clone on Python $version ($mode) FAILED" >&2; rc=1; }
  rm -rf "$clone_parent" "$venv_parent"
done
exit "$rc"
