/**
 * A typed event emitter (a dozen lines, so the SDK has no runtime dependency and behaves the same in browsers and
 * Node). A listener that throws does not break the socket loop that emitted the event: the error is rethrown on a
 * microtask, where it surfaces as an uncaught error the way a throwing DOM event listener does.
 */
export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<(ev: never) => void>>();

  /** Calls `fn` on every `type` event; returns a function that removes it. */
  on<K extends keyof E>(type: K, fn: (ev: E[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(fn as (ev: never) => void);
    return () => set.delete(fn as (ev: never) => void);
  }

  protected emit<K extends keyof E>(type: K, ev: E[K]): void {
    const set = this.listeners.get(type);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        (fn as (ev: E[K]) => void)(ev);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
