/**
 * Instrument ids: validation (the SAME rule the Worker applies, imported from src/okx/protocol.ts), the kind of
 * instrument an id names (which decides the book's size unit), and the recently used list (localStorage).
 */
import { INST_ID_RE } from "../../src/okx/protocol.js";

export const DEFAULT_INST_ID = "BTC-USDT-SWAP";
const RECENT_KEY = "tradesim.recentInstruments";
const RECENT_MAX = 8;

export type InstKind = "SPOT" | "SWAP" | "FUTURES" | "OPTION";

export interface InstInfo {
  readonly instId: string;
  readonly kind: InstKind;
  readonly base: string;
  readonly quote: string;
  /** Unit of book sizes as OKX publishes them: contracts for derivatives, the base coin for spot. */
  readonly bookUnit: "contracts" | "base";
}

/** Normalise user input (trim, upper-case) and validate it like the server does; returns an error message or the id. */
export function parseInstInput(raw: string): { ok: true; instId: string } | { ok: false; message: string } {
  const instId = raw.trim().toUpperCase();
  if (instId === "") return { ok: false, message: "Enter an instrument id, e.g. BTC-USDT-SWAP" };
  if (instId.length > 64 || !INST_ID_RE.test(instId)) {
    return {
      ok: false,
      message: `"${instId.slice(0, 64)}" is not an OKX instrument id (e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-250328)`,
    };
  }
  return { ok: true, instId };
}

export function instInfo(instId: string): InstInfo {
  const parts = instId.split("-");
  const base = parts[0] ?? instId;
  const quote = parts[1] ?? "";
  let kind: InstKind = "SPOT";
  if (parts.length === 2) kind = "SPOT";
  else if (parts[2] === "SWAP") kind = "SWAP";
  else if (parts.length === 3 && /^\d{6}$/.test(parts[2] ?? "")) kind = "FUTURES";
  else if (parts.length >= 4) kind = "OPTION";
  else kind = "SWAP";
  return { instId, kind, base, quote, bookUnit: kind === "SPOT" ? "base" : "contracts" };
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // disabled storage (privacy mode, sandboxed frame)
  }
}

export function loadRecent(): string[] {
  const raw = storage()?.getItem(RECENT_KEY);
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    if (!Array.isArray(v)) return [];
    return v.filter((x): x is string => typeof x === "string" && parseInstInput(x).ok).slice(0, RECENT_MAX);
  } catch {
    return [];
  }
}

/** Move `instId` to the front of the recently used list and return the list. */
export function pushRecent(instId: string): string[] {
  const list = [instId, ...loadRecent().filter((x) => x !== instId)].slice(0, RECENT_MAX);
  try {
    storage()?.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // quota or disabled storage: the list just is not remembered
  }
  return list;
}
