/**
 * A logger Ordo can write to: the subset of pino's interface it uses (`logger.warn({ err }, 'msg')`),
 * so a pino, bunyan-style or console-backed logger can be passed as is. Ordo is silent by default.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** The default logger: writes nothing. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
