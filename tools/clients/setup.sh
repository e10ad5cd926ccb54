#!/usr/bin/env bash
# Creates tools/clients/.venv (git-ignored) with cryptofeed from PyPI. cryptofeed 3.x needs Python >= 3.13.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] && .venv/bin/python -c "import cryptofeed" 2>/dev/null && exit 0
PY=""
for c in python3.14 python3.13 "$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python3" python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)'; then PY="$c"; break; fi
done
[ -n "$PY" ] || { echo "tools/clients/setup.sh: cryptofeed 3.0.1 needs Python >= 3.13; none found" >&2; exit 2; }
"$PY" -m venv .venv
.venv/bin/pip install -q cryptofeed==3.0.1
