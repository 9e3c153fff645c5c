/** Levels in increasing severity; "silent" turns logging off. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/**
 * Where the SDK writes what it does: one method per level, a message and structured fields.
 * `console` fits as is; for pino pass `{warn: (m, f) => pino.warn(f, m), …}`.
 */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

export type Log = Required<Pick<Logger, "debug" | "info" | "warn" | "error">>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

const consoleLogger: Logger = {
  debug: (m, f) => console.debug(`kaleido: ${m}`, f ?? ""),
  info: (m, f) => console.info(`kaleido: ${m}`, f ?? ""),
  warn: (m, f) => console.warn(`kaleido: ${m}`, f ?? ""),
  error: (m, f) => console.error(`kaleido: ${m}`, f ?? ""),
};

/** A logger that drops messages under `level` and never throws into the SDK. */
export function makeLog(logger: Logger | undefined, level: LogLevel = "warn"): Log {
  const target = logger ?? consoleLogger;
  const at = (name: keyof Log) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[name] < ORDER[level]) return;
    try {
      target[name]?.call(target, message, fields);
    } catch {
      // A broken logger must not break serving.
    }
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
