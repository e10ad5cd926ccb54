#!/usr/bin/env bash
# `npm run test:py`: set up the venv, then run the training tests. pytest's exit code 5 ("no tests collected")
# is turned into a failure: a test command that ran nothing must not pass.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash training/setup.sh || exit 1
training/.venv/bin/python -m pytest -q -p no:cacheprovider training/tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test:py: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
