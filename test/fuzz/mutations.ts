/**
 * Mutations of a valid JSON document for the fuzz run (test/fuzz/inputs.fuzz.test.ts): byte-level damage (flips,
 * insertions, deletions, truncation, invalid UTF-8) and structural edits (a value replaced by another type, by
 * hostile values — deep nesting, huge or odd strings, multicast MACs, far-future dates — or a key dropped or added).
 */
import fc from 'fast-check';

const deep = (n: number, open: string, close: string) => open.repeat(n) + close.repeat(n);

/** Values an adversary would try in place of any field. */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(
    null,
    '',
    0,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '2099-01-01T00:00:00.000Z',
    '1970-01-01T00:00:00Z',
    'not a date',
    'ff:ff:ff:ff:ff:ff',
    '00:00:00:00:00:00',
    '01:00:5e:00:00:01',
    'AA-BB-CC-DD-EE-FF',
    'aabb.ccdd.eeff',
    '52:54:00:00:00:0g',
    '../../etc/passwd',
    'a/b',
    '\u0000',
    '\ud800',
    'é'.repeat(100),
    'x'.repeat(100_000),
    [],
    {},
    { __proto__: null, constructor: 1 },
    'inspect wait',
    'agent',
    [{ ports: [] }], // an Ironic with no ports at all: the publish guard's case
  ),
);

export type Mutation =
  | { kind: 'set'; path: number[]; value: unknown }
  | { kind: 'deepen'; path: number[]; depth: number }
  | { kind: 'drop'; path: number[] }
  | { kind: 'add'; path: number[]; key: string; value: unknown }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number };

const path = fc.array(fc.nat(), { maxLength: 6 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), path, value: hostile }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deepen' as const), path, depth: fc.constantFrom(100, 5_000, 50_000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), path }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add' as const), path, key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'schema', 'policy')), value: hostile }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
);

/** One to three mutations, applied in order. */
export const mutations = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** The container and key that `path` leads to (each step picks a child by index modulo the child count). */
function locate(root: unknown, steps: number[]): { parent: Record<string, unknown> | unknown[]; key: string | number } | undefined {
  let parent: Record<string, unknown> | unknown[] | undefined;
  let key: string | number | undefined;
  let cur: unknown = root;
  for (const step of steps) {
    if (typeof cur !== 'object' || cur === null) break;
    const keys: (string | number)[] = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (keys.length === 0) break;
    parent = cur as Record<string, unknown> | unknown[];
    key = keys[step % keys.length]!;
    cur = (parent as Record<string | number, unknown>)[key];
  }
  return parent === undefined || key === undefined ? undefined : { parent, key };
}

function structural(text: string, m: Extract<Mutation, { path: number[] }>): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text; // already broken by an earlier byte mutation: leave it so
  }
  const at = locate(doc, m.path);
  if (!at) return text;
  const target = at.parent as Record<string | number, unknown>;
  const marker = '"\u0000deep\u0000"';
  switch (m.kind) {
    case 'set':
      target[at.key] = m.value;
      return JSON.stringify(doc);
    case 'deepen':
      // Built as text: the runtime's own JSON.stringify cannot write 50,000 levels.
      target[at.key] = '\u0000deep\u0000';
      return JSON.stringify(doc).replace(marker, deep(m.depth, '[', ']'));
    case 'drop':
      if (Array.isArray(target)) target.splice(at.key as number, 1);
      else delete target[at.key];
      return JSON.stringify(doc);
    case 'add': {
      const container = target[at.key];
      if (typeof container === 'object' && container !== null && !Array.isArray(container)) {
        Object.defineProperty(container, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
      } else if (Array.isArray(container)) container.push(m.value);
      return JSON.stringify(doc);
    }
  }
}

export function applyMutations(base: string, list: readonly Mutation[]): Uint8Array {
  let text = base;
  let bytes: Uint8Array | undefined;
  for (const m of list) {
    if ('path' in m) {
      // Structural edits work on text; once bytes were damaged they may not be text any more: skip.
      if (bytes) continue;
      text = structural(text, m);
      continue;
    }
    const b: Uint8Array = bytes ?? new TextEncoder().encode(text);
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === 'byte') {
      const copy = new Uint8Array(b);
      if (copy.length > 0) copy[Math.min(at, copy.length - 1)] = m.value;
      bytes = copy;
    } else if (m.kind === 'insert') bytes = concat(b.subarray(0, at), m.bytes, b.subarray(at));
    else if (m.kind === 'delete') bytes = concat(b.subarray(0, at), b.subarray(at + m.length));
    else bytes = b.subarray(0, at);
  }
  return bytes ?? new TextEncoder().encode(text);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
