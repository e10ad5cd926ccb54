"""TradeSim client for Python: verified OKX order books, forecasts and trade simulation from a TradeSim Worker."""

from .checksum import checksum_string, okx_checksum
from .client import BookSubscription, PredictionSubscription, TradeSimApiError, TradeSimClient, backoff_delay
from .models import (
    Book,
    ChecksumMismatch,
    Event,
    HorizonForecast,
    HorizonScore,
    Lagging,
    Link,
    Prediction,
    Score,
    ServerError,
    Stale,
    State,
    Status,
)

__all__ = [
    "Book",
    "BookSubscription",
    "ChecksumMismatch",
    "Event",
    "HorizonForecast",
    "HorizonScore",
    "Lagging",
    "Link",
    "Prediction",
    "PredictionSubscription",
    "Score",
    "ServerError",
    "Stale",
    "State",
    "Status",
    "TradeSimApiError",
    "TradeSimClient",
    "backoff_delay",
    "checksum_string",
    "okx_checksum",
]
