/**
 * Removes known secret values (passwords, application credential secrets, tokens) from any text that may
 * reach an operator: error messages, log fields, and the error bodies services echo back. A service that
 * echoes the request (a Keystone 400 quoting the body, a proxy's error page) must not print the password.
 */
export const REDACTED = '***';

export class SecretRedactor {
  readonly #needles = new Set<string>();

  /** Remember a secret; its raw, JSON-escaped (once and twice) and URL-encoded forms are redacted from then on. */
  add(secret: string | undefined): void {
    if (secret === undefined || secret === '') return;
    const json = JSON.stringify(secret).slice(1, -1);
    // JSON inside JSON (Ironic's error_message) escapes twice.
    for (const form of [secret, json, JSON.stringify(json).slice(1, -1), encodeURIComponent(secret)]) this.#needles.add(form);
  }

  /** The text with every known secret replaced by `***`; longest first, so one secret inside another goes whole. */
  redact(text: string): string {
    if (this.#needles.size === 0) return text;
    let out = text;
    for (const needle of [...this.#needles].sort((a, b) => b.length - a.length)) out = out.split(needle).join(REDACTED);
    return out;
  }

  /** Redact every string inside a log record (values only; keys are ours). */
  redactFields(fields: Record<string, unknown>): Record<string, unknown> {
    return JSON.parse(JSON.stringify(fields, (_key, value: unknown) => (typeof value === 'string' ? this.redact(value) : value))) as Record<string, unknown>;
  }
}
