"""Shared fixtures: rows CSVs produced by the TypeScript features CLI (features are never computed in Python)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TRAINING = Path(__file__).resolve().parents[1]
ROOT = TRAINING.parent
sys.path.insert(0, str(TRAINING))

BTC = ROOT / "data/binance-usdm-btcusdt-2024-08-08/BTC-USDT-SWAP.books.txt.gz"
# 20 minutes of Gemini ETH-USD, 1-level book + trades (MIT slice, test/fixtures/trades/SOURCE.txt)
GEMINI_20MIN = ROOT / "test/fixtures/trades/gemini-ethusd-2021-07-01-20min.txt.gz"


def features_cli(replay: Path, out: Path, horizon: float, inst_id: str | None = None) -> Path:
    """Run `tools/features/cli.ts` (the npm script's command) and return the CSV path."""
    cmd = ["node", "--import", "tsx", "tools/features/cli.ts", "--replay", str(replay), "--out", str(out), "--horizon", str(horizon)]
    if inst_id:
        cmd += ["--instId", inst_id]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="session")
def btc_rows_csv(tmp_path_factory) -> Path:
    """The bundled 6-minute BTC stream with the default 60 s horizon, exactly as `npm run train` builds it."""
    return features_cli(BTC, tmp_path_factory.mktemp("rows") / "btc60.csv", 60)


@pytest.fixture(scope="session")
def feature_names(btc_rows_csv) -> list[str]:
    return json.loads(Path(f"{btc_rows_csv}.json").read_text())["featureNames"]


@pytest.fixture(scope="session")
def gemini_rows_csv(tmp_path_factory) -> Path:
    """A stream with trades, long enough (20 min, 10 s horizon) for the 300 s windows to fill."""
    return features_cli(GEMINI_20MIN, tmp_path_factory.mktemp("rows") / "gemini10.csv", 10)
