#!/usr/bin/env bash
# Sets up packages/sdk-py/.venv (once; again when pyproject.toml changes), installs the client with its test and
# pandas extras, and runs its pytest suite: unit tests against an in-process fake relay, and tests against the
# real local stack (tests/stack.ts starts the local exchange + `wrangler dev`; needs the repo's node_modules).
# Exit status is pytest's: 0 passed; anything else failed (5 = no test collected, a failure too).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.pyproject.sha256"

if [ ! -x "$venv/bin/python" ]; then
  py=""
  for c in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then py="$c"; break; fi
  done
  [ -n "$py" ] || { echo "sdk-py: need Python >= 3.10; set PYTHON=/path/to/python" >&2; exit 1; }
  echo "sdk-py: creating $venv with $("$py" --version 2>&1)" >&2
  "$py" -m venv "$venv"
fi

want="$(sha256sum "$here/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "sdk-py: installing the client and its test extras into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[test,pandas]"
  echo "$want" >"$stamp"
fi

cd "$here"
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "sdk-py: pytest collected no test" >&2; fi
exit "$rc"
