#!/usr/bin/env bash
# Prediction v2, end to end (the exact command behind docs/prediction.md's tables and models/predict-v2.*):
#   bash training/evaluate.sh [--serve 5,10,60] [extra evaluate.py args]
# 1. training/setup.sh (venv + pinned requirements)
# 2. the TypeScript features CLI (books + trades) over the four datasets -> training/out/eval/<name>.csv, horizons 5/10/60 s
#    (reads ../shared/data, or $SHARED_DATA: the Binance 2023 set must stay out of the repo)
# 3. training/evaluate.py: leave-one-dataset-out, shipping decisions, export, walk-forward, results + tables
# CPU: two shared cores here, so everything runs under nice and the training pools are thinned (~15 min in total).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
shared="${SHARED_DATA:-$root/../shared/data}"
bash training/setup.sh
mkdir -p training/out/eval
declare -A src=(
  [gemini]="$shared/gemini-ethusd-2021-07-01-as-okx/ETH-USD.books-trades.txt.gz"
  [okcoin]="$shared/okcoincn-btccny-2016-03-03-as-okx/BTC-CNY.books-trades.txt.gz"
  [binance2023]="$shared/binance-usdm-btcusdt-2023-01-09-depth10-as-okx/BTC-USDT-SWAP.books.txt.gz"
  [btc6min]="data/binance-usdm-btcusdt-2024-08-08/BTC-USDT-SWAP.books.txt.gz"
)
for name in gemini okcoin binance2023 btc6min; do
  nice -n 10 node --import tsx tools/features/cli.ts --replay "${src[$name]}" --out "training/out/eval/$name.csv" --horizons 5,10,60
done
nice -n 10 training/.venv/bin/python training/evaluate.py --rows-dir training/out/eval "$@"
