/**
 * Errors that carry the offending field and value, so every refusal reads as one clear line
 * ("ports[3].address: not a MAC address: \"zz:00:…\"") for the operator.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    // No value to show (a missing field, a refusal about the whole thing): the field and the reason say it all.
    super(value === undefined ? `${field}: ${reason}` : `${field}: ${reason}: ${showValue(value)}`);
  }
}

/** A combination of settings that can never be right (e.g. discovery with deny-unknown-macs). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The publish guard refused a policy that looks like a broken export; carries the numbers. */
export class GuardError extends Error {
  override readonly name = 'GuardError';
  constructor(
    message: string,
    readonly details: Record<string, number>,
  ) {
    super(message);
  }
}

const MAX_SHOWN = 80;

/** Render a value for an error message: JSON-quoted, control characters escaped, long values cut. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A cycle, or nesting deeper than the stack (JSON.stringify and String both recurse): say what it is instead.
    text = Array.isArray(value) ? '[array nested too deeply to show]' : typeof value === 'object' && value !== null ? '{object nested too deeply to show}' : typeof value;
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…(${text.length} chars)` : text;
}
