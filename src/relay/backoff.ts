/**
 * Reconnect delay: exponential backoff with "equal jitter" (half fixed, half random), capped. Equal rather than
 * full jitter so a reconnect never fires immediately after a failure, while N relays restarting together still
 * spread out instead of hitting OKX's 3-connections-per-second limit in lockstep.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return exp / 2 + random() * (exp / 2);
}
