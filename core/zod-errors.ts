import type { z } from 'zod';
import { InputError } from './errors.ts';

/** Turn the first zod issue into one InputError naming the field path and the offending value. */
export function inputErrorFromZod(error: z.ZodError, root: unknown, label: string): InputError {
  const issue = error.issues[0]!;
  const path = issue.path.map(String);
  const field = [label, ...path].reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : `${acc}.${part}`));
  return new InputError(field, valueAt(root, issue.path), issue.message);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Parse `value` with `schema`; on failure throw one InputError that names `label`.path and the value. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, label: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw inputErrorFromZod(result.error, value, label);
  return result.data;
}
