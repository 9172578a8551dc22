/**
 * The one strict reader of JSON documents that users and exporters hand us (CLI files, store objects): bytes must be
 * UTF-8 (no silent U+FFFD), text must be JSON, and every refusal is an InputError naming the label (the user's file
 * or the store key) with where it went wrong — byte offset for encoding, line and column for syntax.
 */
import { Buffer, isAscii, isUtf8 } from 'node:buffer';
import { InputError } from './errors.ts';

const UTF8 = new TextDecoder('utf-8');

/** Bytes → text, refusing anything that is not UTF-8 (with the offset of the first bad byte). */
export function decodeUtf8Strict(bytes: Uint8Array, label: string): string {
  // ASCII (Ironic's exports are) is UTF-8 and latin1 alike, and Node makes a long latin1 text an external string:
  // the documents' text, dead once parsed, is then not part of the V8 heap that the parse's garbage collections
  // are sized by and work through. Same text; anything else is checked and decoded as UTF-8.
  if (isAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (!isUtf8(bytes)) {
    const offset = firstInvalidUtf8Offset(bytes);
    const shown = Array.from(bytes.subarray(offset, offset + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new InputError(label, shown, `not valid UTF-8 at byte offset ${offset}`);
  }
  // Already checked: no second validation pass (a leading BOM is dropped, as editors on some systems write one).
  return UTF8.decode(bytes);
}

/** Text → value; a syntax error names the line and column (1-based) and shows the text there. */
export function parseJsonText(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (err instanceof RangeError) throw new InputError(label, `${text.length} characters`, 'JSON nested too deeply to read');
    // V8 words some errors with a position and some without; find the spot ourselves (only on this error path).
    const found = findJsonSyntaxError(text) ?? { index: text.length, reason: (err as Error).message.split('\n')[0]! };
    const { line, column } = lineAndColumn(text, found.index);
    throw new InputError(label, excerpt(text, found.index), `not valid JSON at line ${line} column ${column} (${found.reason})`);
  }
}

/** decodeUtf8Strict then parseJsonText: the path every JSON input takes, on the CLI and in the Lambda alike. */
export function decodeJsonBytes(bytes: Uint8Array, label: string): unknown {
  return parseJsonText(decodeUtf8Strict(bytes, label), label);
}

export function lineAndColumn(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: index - lineStart + 1 };
}

function excerpt(text: string, at: number): string {
  const start = Math.max(0, at - 20);
  return `${start > 0 ? '…' : ''}${text.slice(start, at + 20)}${at + 20 < text.length ? '…' : ''}`;
}

/** Offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const seq = utf8Sequence(b);
    if (!seq) return i;
    const [need, min, max] = seq;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      const lo = k === 1 ? min : 0x80;
      const hi = k === 1 ? max : 0xbf;
      if (c === undefined || c < lo || c > hi) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}

/** For a lead byte: how many continuation bytes follow, and the range the first of them must fall in. */
function utf8Sequence(b: number): [number, number, number] | undefined {
  if (b >= 0xc2 && b <= 0xdf) return [1, 0x80, 0xbf];
  if (b === 0xe0) return [2, 0xa0, 0xbf];
  if (b === 0xed) return [2, 0x80, 0x9f];
  if (b >= 0xe1 && b <= 0xef) return [2, 0x80, 0xbf];
  if (b === 0xf0) return [3, 0x90, 0xbf];
  if (b >= 0xf1 && b <= 0xf3) return [3, 0x80, 0xbf];
  if (b === 0xf4) return [3, 0x80, 0x8f];
  return undefined;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const ESCAPE = /["\\/bfnrt]|u[0-9a-fA-F]{4}/y;

/** Where JSON.parse would stop, and why: a small iterative scanner (no recursion, so any depth). */
export function findJsonSyntaxError(text: string): { index: number; reason: string } | undefined {
  const n = text.length;
  const stack: string[] = [];
  let i = 0;
  let state: 'value' | 'key' | 'after' = 'value';
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const unexpected = () => ({ index: i, reason: i >= n ? 'unexpected end of input' : `unexpected ${JSON.stringify(text[i])}` });
  const string = (): { index: number; reason: string } | undefined => {
    i++; // opening quote
    for (;;) {
      if (i >= n) return { index: i, reason: 'unterminated string' };
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return { index: i, reason: 'control character in a string (escape it)' };
      if (c === 0x5c) {
        ESCAPE.lastIndex = i + 1;
        if (!ESCAPE.test(text)) return { index: i, reason: 'bad escape in a string' };
        i = ESCAPE.lastIndex;
      } else i++;
    }
  };
  for (;;) {
    skipWs();
    if (state === 'value') {
      const c = text[i];
      if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        skipWs();
        if (text[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          state = 'after';
        } else state = c === '{' ? 'key' : 'value';
      } else if (c === '"') {
        const bad = string();
        if (bad) return bad;
        state = 'after';
      } else {
        NUMBER.lastIndex = i;
        LITERAL.lastIndex = i;
        if (NUMBER.test(text)) i = NUMBER.lastIndex;
        else if (LITERAL.test(text)) i = LITERAL.lastIndex;
        else return unexpected();
        state = 'after';
      }
    } else if (state === 'key') {
      if (text[i] !== '"') return { index: i, reason: i >= n ? 'unexpected end of input' : `expected a double-quoted property name, found ${JSON.stringify(text[i])}` };
      const bad = string();
      if (bad) return bad;
      skipWs();
      if (text[i] !== ':') return { index: i, reason: i >= n ? 'unexpected end of input' : `expected ':' after a property name, found ${JSON.stringify(text[i])}` };
      i++;
      state = 'value';
    } else {
      const top = stack.at(-1);
      if (top === undefined) return i < n ? { index: i, reason: `unexpected ${JSON.stringify(text[i])} after the end of the document` } : undefined;
      const close = top === '{' ? '}' : ']';
      if (text[i] === ',') {
        i++;
        state = top === '{' ? 'key' : 'value';
      } else if (text[i] === close) {
        stack.pop();
        i++;
      } else return { index: i, reason: i >= n ? 'unexpected end of input' : `expected ',' or '${close}', found ${JSON.stringify(text[i])}` };
    }
  }
}
