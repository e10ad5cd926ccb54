/**
 * Every runtime entry point and callback of a Durable Object runs through `guard`: a throw (or a rejected
 * promise) is logged with the entry point's name and the object's label, and never escapes into the runtime,
 * where it would fail the event (and, for an alarm, retry it) or break the object for every client.
 */

/** Minimal logger (console in production; a recorder in tests). */
export interface Log {
  error(...args: unknown[]): void;
}

/** Run `fn`; log and swallow what it throws, returning `fallback`. */
export function guard<T>(log: Log, name: string, label: string | null, fn: () => T, fallback: T): T;
export function guard(log: Log, name: string, label: string | null, fn: () => void): void;
export function guard<T>(log: Log, name: string, label: string | null, fn: () => T, fallback?: T): T | undefined {
  try {
    const out = fn();
    if (out instanceof Promise) {
      return out.catch((e: unknown) => {
        log.error(name, label, e);
        return fallback;
      }) as T;
    }
    return out;
  } catch (e) {
    log.error(name, label, e);
    return fallback;
  }
}
