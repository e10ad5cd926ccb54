import { describe, expect, it } from "vitest";
import { AlarmScheduler, nextAlarm } from "../src/relay/scheduler.js";

describe("nextAlarm", () => {
  it.each<[string, (number | null)[], number | null, number, number | null]>([
    ["nothing pending", [null, null], null, 0, null],
    ["earliest deadline, rounded up", [300.2, 100.4, null], null, 0, 101],
    ["an alarm already set earlier is kept", [500], 400, 0, null],
    ["an alarm set later is moved earlier", [300], 400, 0, 300],
    ["an alarm in the past does not count", [300], 50, 100, 300],
  ])("%s", (_n, ds, current, now, want) => {
    expect(nextAlarm(ds, current, now)).toBe(want);
  });
});

describe("AlarmScheduler", () => {
  it("arms once per earlier deadline and again after firing", async () => {
    const set: number[] = [];
    let now = 0;
    const s = new AlarmScheduler(
      async (at) => void set.push(at),
      () => now,
    );
    await s.arm([1000]);
    await s.arm([2000]);
    await s.arm([800]);
    expect(set).toEqual([1000, 800]);
    now = 800;
    s.fired();
    await s.arm([2000]);
    expect(set).toEqual([1000, 800, 2000]);
  });
});
