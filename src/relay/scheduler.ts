/**
 * One alarm for every relay timer. Durable Object alarms survive hibernation and eviction, but an object has only
 * one: the scheduler keeps it at the earliest pending deadline.
 *
 * Runtime facts: alarms fire on whole milliseconds and may fire a little early, so deadlines are rounded up and a
 * deadline within ALARM_SLACK_MS of the firing time counts as due (without the slack a fractional deadline never
 * becomes due and the re-armed alarm never fires again: found by the recovery bench).
 */

/** A deadline this close to the alarm's firing time counts as due. */
export const ALARM_SLACK_MS = 5;

/**
 * The alarm time to set for these deadlines, or null when nothing needs to change: no deadline, or an alarm
 * already set (still in the future) at or before the earliest one.
 */
export function nextAlarm(deadlines: readonly (number | null)[], current: number | null, now: number): number | null {
  let min = Infinity;
  for (const d of deadlines) if (d !== null && d < min) min = d;
  if (min === Infinity) return null;
  const at = Math.ceil(min);
  if (current !== null && current <= at && current > now) return null;
  return at;
}

/** Sets the object's alarm at the earliest deadline (the storage call is injected: Node tests pass a fake). */
export class AlarmScheduler {
  private armedAt: number | null = null;

  constructor(
    private readonly setAlarm: (at: number) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** The alarm fired: nothing is armed any more. */
  fired(): void {
    this.armedAt = null;
  }

  /** Arm the alarm for the earliest of `deadlines` if it is not armed early enough already. */
  async arm(deadlines: readonly (number | null)[]): Promise<void> {
    const at = nextAlarm(deadlines, this.armedAt, this.now());
    if (at === null) return;
    this.armedAt = at;
    await this.setAlarm(at);
  }
}
