/**
 * oslo.config's INI dialect, as its own parser (oslo_config/iniparser.py) reads it — a port of those ~100 lines
 * rather than a generic INI library, whose rules differ (inline comments, `:` as separator, continuation lines,
 * quoting, duplicate keys): a value that means one thing to ironic-inspector must mean the same here.
 *
 * - `[section]`; every group name but `DEFAULT` is case-insensitive (oslo lowercases it).
 * - `key = value` or `key: value` (whichever separator comes first); surrounding whitespace is dropped, and
 *   one pair of matching quotes around the whole value.
 * - A line starting with a space or tab continues the previous value (joined with a newline); a blank line ends it.
 * - `#` or `;` at the start of a line is a comment; there are no inline comments (`a = b # c` is "b # c").
 * - A key given twice: the last one wins; with several files, later files override earlier ones.
 */

export class OsloIniError extends Error {
  override readonly name = 'OsloIniError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    readonly text: string,
  ) {
    super(`${file}:${line}: ${reason}: ${JSON.stringify(text)}`);
  }
}

export interface OsloValue {
  value: string;
  file: string;
  line: number;
}

/** section → option → value (the last assignment wins). */
export type OsloConfig = Map<string, Map<string, OsloValue>>;

export function sectionName(name: string): string {
  return name === 'DEFAULT' ? name : name.toLowerCase();
}

/** Parse one file's text into `into` (so several files layer in order). */
export function parseOsloIni(text: string, file: string, into: OsloConfig = new Map()): OsloConfig {
  let section: string | undefined;
  let key: string | undefined;
  let keyLine = 0;
  let value: string[] = [];
  const flush = () => {
    if (key === undefined) return;
    if (section === undefined) throw new OsloIniError(file, keyLine, 'an option before any [section]', key);
    let options = into.get(section);
    if (!options) into.set(section, (options = new Map()));
    options.set(key, { value: value.join('\n'), file, line: keyLine });
    key = undefined;
    value = [];
  };
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const lineno = i + 1;
    const line = raw.trimEnd();
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (key === undefined) throw new OsloIniError(file, lineno, 'a continuation line with nothing to continue', line);
      value.push(line.trimStart());
      continue;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) throw new OsloIniError(file, lineno, 'a section header must end with ]', line);
      if (line.length <= 2) throw new OsloIniError(file, lineno, 'an empty section name', line);
      section = sectionName(line.slice(1, -1));
      if (!into.has(section)) into.set(section, new Map());
    } else if (line.startsWith('#') || line.startsWith(';')) {
      // comment
    } else {
      const colon = line.indexOf(':');
      const equal = line.indexOf('=');
      if (colon < 0 && equal < 0) throw new OsloIniError(file, lineno, "no '=' or ':' in an assignment", line);
      const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
      const k = line.slice(0, at).trim();
      let v = line.slice(at + 1).trim();
      if (v.length >= 1 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
      if (!k) throw new OsloIniError(file, lineno, 'an empty option name', line);
      key = k;
      keyLine = lineno;
      value = [v];
    }
  }
  flush();
  return into;
}
