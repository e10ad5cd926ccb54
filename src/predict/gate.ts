/**
 * Gating of a point-forecast head on its rolling live skill, skill = 1 - MSE(model) / MSE(no-change) over the
 * scorer's window. The model's forecasts keep being scored while the head is gated (served as no-change), so the
 * gate can reopen when skill returns.
 *
 * Hysteresis: the gate closes when skill < `closeBelow` and reopens only when skill > `openAbove` (> closeBelow), so
 * a skill hovering around 0 does not flip the served forecast every second. No decision is taken before the
 * window holds `minWindows` independent outcomes (span / horizon): 600 s of 1 s forecasts at 60 s are ~10
 * outcomes, not 600.
 */

export interface GateOptions {
  /** Independent outcomes needed before the gate may change (default 10). */
  readonly minWindows?: number;
  /** Close when skill falls below this (default -0.01: 1 % worse MSE than no-change). */
  readonly closeBelow?: number;
  /** Reopen when skill rises above this (default +0.01). */
  readonly openAbove?: number;
}

export interface GateState {
  readonly minWindows: number;
  readonly closeBelow: number;
  readonly openAbove: number;
  gated: boolean;
  /** Number of state changes, for logs. */
  flips: number;
}

/** A gate that starts open: the head shipped because it beat no-change out of sample. */
export function createGate(o: GateOptions = {}): GateState {
  const g = {
    minWindows: o.minWindows ?? 10,
    closeBelow: o.closeBelow ?? -0.01,
    openAbove: o.openAbove ?? 0.01,
    gated: false,
    flips: 0,
  };
  if (!(g.openAbove > g.closeBelow))
    throw new Error(`gate: openAbove (${g.openAbove}) must exceed closeBelow (${g.closeBelow})`);
  return g;
}

/** Feed the current rolling skill and window count; returns whether the head is gated now. */
export function gateUpdate(g: GateState, skill: number | null, windows: number): boolean {
  if (skill === null || windows < g.minWindows) return g.gated;
  const next = g.gated ? !(skill > g.openAbove) : skill < g.closeBelow;
  if (next !== g.gated) {
    g.gated = next;
    g.flips++;
  }
  return g.gated;
}
