import { locale } from "./i18n";

/** Numbers as people read them: thousands separators, percentages, signed lifts, p-values. */

const cache = new Map<string, Intl.NumberFormat>();
function nf(key: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const id = `${locale()}|${key}`;
  let f = cache.get(id);
  if (!f) {
    f = new Intl.NumberFormat(locale(), options);
    cache.set(id, f);
  }
  return f;
}

export const DASH = "—";

export function isNum(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

export function fmtInt(x: unknown): string {
  return isNum(x) ? nf("int", { maximumFractionDigits: 0 }).format(x) : DASH;
}

export function fmtCompact(x: unknown): string {
  return isNum(x) ? nf("compact", { notation: "compact", maximumFractionDigits: 1 }).format(x) : DASH;
}

/** A rate as a percentage: 0.03125 -> "3.13%". */
export function fmtPct(x: unknown, digits = 2): string {
  return isNum(x) ? nf(`pct${digits}`, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x) : DASH;
}

/** A relative change with its sign: 0.123 -> "+12.3%". */
export function fmtLift(x: unknown, digits = 1): string {
  return isNum(x)
    ? nf(`lift${digits}`, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: "exceptZero" }).format(x)
    : DASH;
}

export function fmtRange(range: [number, number] | null | undefined, format: (x: number) => string): string {
  if (!range || !isNum(range[0]) || !isNum(range[1])) return DASH;
  return `${format(range[0])} – ${format(range[1])}`;
}

export function fmtP(p: unknown): string {
  if (!isNum(p)) return DASH;
  if (p < 0.001) return "< 0.001";
  return nf("p", { minimumFractionDigits: 3, maximumFractionDigits: 3 }).format(p);
}

export function fmtNum(x: unknown, digits = 3): string {
  return isNum(x) ? nf(`num${digits}`, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x) : DASH;
}

/** A ratio like normalized preference: 1.234 -> "1.23×". */
export function fmtRatio(x: unknown): string {
  return isNum(x) ? `${nf("ratio", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(x)}×` : DASH;
}

export function fmtDate(value: unknown): string {
  if (typeof value !== "string" || !value) return DASH;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(d);
}

export function fmtDay(value: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(locale(), { month: "short", day: "numeric", timeZone: "UTC" }).format(d);
}
