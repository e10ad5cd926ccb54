/**
 * Connection-rate limiter (pure): OKX allows 3 new WebSocket connections per second per IP. All relays of a
 * deployment share the Directory's limiter, so when many instruments reconnect at once (after an OKX restart or a
 * deploy) they queue for slots instead of being refused and backing off at random.
 */
export interface SlotLimiter {
  /** Start times (ms) of the slots granted within the last window. */
  granted: number[];
}

/**
 * Reserve the earliest slot at or after `now` such that no more than `perWindow` slots start within any window of
 * `windowMs`. Returns the slot's start time (== now when one is free). Mutates `limiter`.
 */
export function reserveSlot(limiter: SlotLimiter, now: number, perWindow: number, windowMs = 1000): number {
  const g = limiter.granted;
  // forget slots that can no longer constrain anything at or after `now`
  while (g.length > 0 && g[0]! <= now - windowMs) g.shift();
  let at = now;
  if (g.length >= perWindow) {
    // the slot `perWindow` places back must have left the window
    at = Math.max(now, g[g.length - perWindow]! + windowMs);
  }
  g.push(at);
  return at;
}
