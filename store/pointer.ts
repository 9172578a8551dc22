/**
 * The pointer codec: the SSM parameter (a directory file in the local store) naming the exact manifest version a
 * site's agents apply. The publisher writes it (control/publish.ts) and the agent reads it
 * (agent/manifest-source.ts); both use this one definition.
 */
import { InputError } from '../core/errors.ts';
import { type Pointer, PointerSchema } from '../core/manifest.ts';
import { parseWith } from '../core/zod-errors.ts';
import { pointerParameter } from './keys.ts';
import type { Store } from './store.ts';

/** The site's pointer, or undefined when none was published; InputError when it is not a valid pointer. */
export async function readPointer(store: Store, site: string): Promise<Pointer | undefined> {
  const name = pointerParameter(site);
  const text = await store.getParameter(name);
  if (text === undefined) return undefined;
  return decodePointer(text, name);
}

export function decodePointer(text: string, label: string): Pointer {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InputError(label, text, 'pointer is not JSON');
  }
  return parseWith(PointerSchema, doc, label);
}

export async function writePointer(store: Store, pointer: Pointer): Promise<void> {
  await store.putParameter(pointerParameter(pointer.site), JSON.stringify(pointer));
}
