#!/usr/bin/env bash
# `npm run train [-- --replay FILE] [--horizon S] [--name NAME] [--val-frac F] [--instId X]`
# 1. training/setup.sh (venv + pinned requirements)
# 2. the TypeScript features CLI over the capture (default: the bundled 6-minute BTC-USDT-SWAP stream) -> rows CSV
# 3. training/train.py: purged split, baselines, ridge + quantiles, decision, ONNX export, metrics, parity fixture
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

replay="data/binance-usdm-btcusdt-2024-08-08/BTC-USDT-SWAP.books.txt.gz"
horizon=60
name=""
instid=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --replay) replay="$2"; shift 2 ;;
    --horizon) horizon="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --instId) instid=(--instId "$2"); shift 2 ;;
    --val-frac) extra+=(--val-frac "$2"); shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "train.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$name" ] || name="mid${horizon}"

bash training/setup.sh
mkdir -p training/out
rows="training/out/${name}.rows.csv"
node --import tsx tools/features/cli.ts --replay "$replay" --out "$rows" --horizon "$horizon" "${instid[@]}"
training/.venv/bin/python training/train.py --rows "$rows" --name "$name" --out-dir models --fixture-dir test/fixtures "${extra[@]}"
echo "train: metrics table in models/${name}.metrics.md" >&2
