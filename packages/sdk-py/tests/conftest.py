"""Fixtures: the real local stack (tests/stack.ts: the local OKX exchange + `wrangler dev`), started once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ALLOWED = "BTC-USDT-SWAP,ETH-USDT-SWAP"


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, str]]:
    """{"baseUrl", "exchangeHttp"} of a running stack (ETH-USDT-SWAP is allowed but not in the replay)."""
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    if not tsx.exists():
        pytest.fail(f"{tsx} is missing: run `npm ci` in {REPO} first")
    proc = subprocess.Popen(
        [str(tsx), "packages/sdk-py/tests/stack.ts", f"ALLOWED_INSTRUMENTS={ALLOWED}"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
        # As `npm run` does: the project's pinned Node (the `node` devDependency) and wrangler come first.
        env={**os.environ, "FORCE_COLOR": "0", "PATH": f"{REPO / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        pytest.fail(f"the stack did not start (exit {proc.returncode})")
    info = json.loads(line)
    try:
        yield info
    finally:
        proc.stdin.close()  # the launcher stops wrangler and the exchange when its stdin closes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
