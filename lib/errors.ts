// Errors thrown or emitted by the façade. Every one carries a stable `code` (as fastify's FST_ERR_* and
// Node's ERR_*): match on `code`, never on the message, which is for people and may change.

/** The codes this package defines. Errors passed through from the system (bind failures such as
 *  EADDRINUSE, the engine's own `error` events) keep their original code. */
export const ErrorCodes = {
  /** A setting is unknown, has the wrong type or is out of range (config file, env, flags, options),
   *  or the config file cannot be read or parsed. */
  CONFIG_INVALID: 'EPCHAT_CONFIG_INVALID',
  /** The TLS certificate or key cannot be loaded (unreadable, not PEM, not a pair) at start or on reload. */
  TLS: 'EPCHAT_TLS',
  /** The server is not listening (never started, or closed). */
  NOT_LISTENING: 'EPCHAT_NOT_LISTENING',
  /** `listen()` on a server that is already listening or starting. */
  ALREADY_LISTENING: 'EPCHAT_ALREADY_LISTENING',
  /** A request was pending when the engine stopped. */
  CLOSED: 'EPCHAT_CLOSED',
  /** `reload()` with a setting that needs a restart. */
  NOT_RELOADABLE: 'EPCHAT_NOT_RELOADABLE',
  /** `registerCommand()` with a bad name, or a name that already has a handler. */
  COMMAND_INVALID: 'EPCHAT_COMMAND_INVALID',
  /** A bad argument to a public method: a non-string, a text with a newline or a control character
   *  (`announce`, `kick`, `deliver`), a string where an array is expected, … (nothing is sent). */
  INVALID_ARGUMENT: 'EPCHAT_INVALID_ARGUMENT',
  /** The storage (the data directory, its database or its lock) cannot be opened at start: the message
   *  names the path. */
  STORAGE: 'EPCHAT_STORAGE',
  /** The native addon could not be found (same code as lib/native.ts uses). */
  NO_ADDON: 'EPCHAT_NO_ADDON',
} as const;

export type EpchatErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class EpchatError extends Error {
  /** Stable machine-readable code: one of `ErrorCodes`, or a system/engine code passed through. */
  readonly code: string;

  constructor(code: EpchatErrorCode | (string & {}), message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EpchatError';
    this.code = code;
  }

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}

/** One problem found while resolving the configuration. */
export interface ConfigIssue {
  /** The setting name (`port`), or the unknown key / flag as written. */
  key: string;
  /** Where the value came from: `EPCHAT_PORT`, `--port`, `config file ./epchat.json`, `options`, … */
  source: string;
  /** The human-readable problem, without the key and source. */
  problem: string;
}

/** Thrown with code EPCHAT_CONFIG_INVALID; `issues` lists every problem found, not just the first. */
export class ConfigError extends EpchatError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const parts = issues.map((i) => `${i.key} (from ${i.source}) ${i.problem}`);
    super(ErrorCodes.CONFIG_INVALID, `invalid config: ${parts.join('; ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** True when `err` is an Error carrying a string `code` (ours or a system one). */
export function hasCode(err: unknown): err is Error & { code: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}
