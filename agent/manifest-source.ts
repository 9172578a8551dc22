/**
 * Where the agent gets its manifest: the one path from the store to a verified manifest, for the daemon,
 * `agent once --config`, `agent plan` and `agent status`.
 *
 *   pointer → (this site's? this site's manifest key? not a replay?) → the exact version → verifyManifest
 *
 * Every outcome is a value: `verified`, `refused` (the store answered with something this agent must not apply:
 * the directory stays as it is, and the same pointer is not fetched again), or `unreachable` (retried). Every
 * check of a manifest's bytes (signature included) is in `verify` below.
 *
 * With a fast pointer (store/fast-pointer.ts) each poll reads it, and the SSM pointer only on a slower schedule
 * (`pointerReads`); the fast one is a hint, followed only when it names a newer generation than SSM did, and then
 * checked exactly like an SSM pointer. One it named and `fetch` refused is ignored from then on, so a forged or
 * broken fast pointer cannot hold back what SSM says.
 */
import { InputError } from '../core/errors.ts';
import { type Manifest, type Pointer, verifyManifest } from '../core/manifest.ts';
import type { Policy } from '../core/policy.ts';
import { manifestKey } from '../store/keys.ts';
import { type TrustStore, verifyManifestSignature } from '../core/signature.ts';
import type { SsmFallback } from '../store/fast-pointer.ts';
import { decodePointer, readPointer } from '../store/pointer.ts';
import type { Store } from '../store/store.ts';
import { errorText } from './log.ts';

/** What this host has applied (the state file): the replay check compares against it. */
export interface AppliedRef {
  generation: number;
  sha256: string;
}

export type PointerRead =
  | { kind: 'pointer'; pointer: Pointer }
  | { kind: 'unpublished' }
  | { kind: 'refused'; reason: string; error: InputError }
  | { kind: 'unreachable'; error: string };

export type Fetched =
  | { kind: 'verified'; pointer: Pointer; manifest: Manifest }
  | { kind: 'refused'; pointer: Pointer; reason: string }
  | { kind: 'unreachable'; pointer: Pointer; error: string };

/**
 * A pointer's identity: a refusal is remembered by it, so the same pointer is not fetched again. A pointer re-signed
 * in place (signing turned on, a key rotated) is a new pointer: a refusal of the old one does not stick.
 */
export const pointerId = (p: Pointer) => `${p.generation}/${p.versionId}/${p.sha256}/${p.signature?.signature ?? ''}`;

const NO_TRUST: TrustStore = new Map();

/** Has the pointer moved away from what is applied (so a fetch and an apply are due)? */
export function pointerMoved(pointer: Pointer, applied: AppliedRef | undefined): boolean {
  return !applied || pointer.generation !== applied.generation || pointer.sha256 !== applied.sha256;
}

/**
 * Why this pointer must not be followed, before any byte is fetched: another site's, naming another manifest
 * (IAM stops that in AWS; the agent checks it everywhere), or a replay — an older generation, or the applied
 * generation with other bytes (a generation is never reused). verifyManifest then ties the bytes to the pointer.
 */
export function pointerRefusal(pointer: Pointer, site: string, applied: AppliedRef | undefined): InputError | undefined {
  if (pointer.site !== site) return new InputError('pointer.site', pointer.site, `is not this agent's site "${site}"`);
  const key = manifestKey(site);
  if (pointer.key !== key) return new InputError('pointer.key', pointer.key, `is not this site's manifest (${key})`);
  if (applied && pointer.generation < applied.generation) {
    return new InputError('pointer.generation', pointer.generation, `is older than the applied generation ${applied.generation} (replay refused)`);
  }
  if (applied && pointer.generation === applied.generation && pointer.sha256 !== applied.sha256) {
    return new InputError('manifest.generation', pointer.generation, 'was already applied with different bytes (a generation is never reused)');
  }
  return undefined;
}

/** The fast pointer's answer to one poll. `ignored`: present but not followed (not a pointer, or refused before). */
export type FastRead = { kind: 'pointer'; pointer: Pointer } | { kind: 'absent' } | { kind: 'ignored'; reason: string } | { kind: 'unreachable'; error: string };

/** Is an SSM read due this poll? Always at the first; then on the slow schedule, or the faster one while the fast pointer fails. */
export function ssmReadDue(lastSsmAt: number | undefined, fast: FastRead, now: number, fallback: SsmFallback): boolean {
  if (lastSsmAt === undefined) return true;
  return now - lastSsmAt >= (fast.kind === 'pointer' ? fallback.intervalMs : fallback.retryMs);
}

/**
 * Which pointer this poll yields. `ssm`: read this poll (undefined: not due); `lastSsm`: the last SSM answer that was
 * a pointer or "unpublished"; `previous`: what the last poll yielded. The fast pointer wins only with a generation
 * above SSM's; otherwise SSM's answer of this poll, else the previous answer (nothing new: the daemon does nothing).
 */
export function choosePointer(fast: FastRead, ssm: PointerRead | undefined, lastSsm: PointerRead | undefined, previous: PointerRead | undefined): PointerRead {
  const authority = ssm && (ssm.kind === 'pointer' || ssm.kind === 'unpublished') ? ssm : lastSsm;
  if (fast.kind === 'pointer' && (authority?.kind !== 'pointer' || fast.pointer.generation > authority.pointer.generation)) return { kind: 'pointer', pointer: fast.pointer };
  if (ssm && (ssm.kind !== 'unreachable' || !previous)) return ssm;
  if (previous) return previous;
  if (fast.kind === 'pointer') return { kind: 'pointer', pointer: fast.pointer };
  return { kind: 'unreachable', error: fast.kind === 'unreachable' ? fast.error : fast.kind === 'ignored' ? fast.reason : 'fast pointer absent and the SSM pointer not read' };
}

/** Add to a small insertion-ordered set, forgetting the oldest: a long-running agent keeps only recent pointers. */
function remember(set: Set<string>, id: string, max = 32): void {
  set.delete(id);
  set.add(id);
  if (set.size > max) set.delete(set.values().next().value!);
}

export class ManifestSource {
  private lastSsmAt: number | undefined;
  private lastSsm: PointerRead | undefined;
  private previous: PointerRead | undefined;
  /** Pointers the fast pointer named that fetch refused: ignored from then on (pointerId). */
  private readonly refusedFast = new Set<string>();
  /** The last pointers this source followed on the fast pointer's word (pointerId), so fetch knows a refusal is its. */
  private readonly fromFast = new Set<string>();

  constructor(
    private readonly store: Store,
    readonly site: string,
    /** Keys this agent trusts; when any is configured, an unsigned or badly signed manifest is refused. */
    private readonly trust: TrustStore = NO_TRUST,
    private readonly now: () => number = Date.now,
  ) {}

  get description(): string {
    return this.store.description;
  }

  async readPointer(): Promise<PointerRead> {
    const fastPointer = this.store.fastPointer;
    if (!fastPointer) return this.readSsm();
    const fast = await this.readFast();
    const now = this.now();
    let ssm: PointerRead | undefined;
    if (ssmReadDue(this.lastSsmAt, fast, now, fastPointer.fallback)) {
      ssm = await this.readSsm();
      this.lastSsmAt = now;
      if (ssm.kind === 'pointer' || ssm.kind === 'unpublished') this.lastSsm = ssm;
    }
    const chosen = choosePointer(fast, ssm, this.lastSsm, this.previous);
    if (fast.kind === 'pointer' && chosen.kind === 'pointer' && chosen.pointer === fast.pointer) remember(this.fromFast, pointerId(fast.pointer));
    if (chosen.kind === 'pointer' || chosen.kind === 'unpublished') this.previous = chosen;
    return chosen;
  }

  private async readSsm(): Promise<PointerRead> {
    try {
      const pointer = await readPointer(this.store, this.site);
      return pointer ? { kind: 'pointer', pointer } : { kind: 'unpublished' };
    } catch (err) {
      return err instanceof InputError ? { kind: 'refused', reason: err.message, error: err } : { kind: 'unreachable', error: errorText(err) };
    }
  }

  private async readFast(): Promise<FastRead> {
    const fastPointer = this.store.fastPointer!;
    let text: string | undefined;
    try {
      text = await fastPointer.read(this.site);
    } catch (err) {
      return { kind: 'unreachable', error: errorText(err) };
    }
    if (text === undefined) return { kind: 'absent' };
    try {
      const pointer = decodePointer(text, `${fastPointer.description} item ${this.site}`);
      if (this.refusedFast.has(pointerId(pointer))) return { kind: 'ignored', reason: `generation ${pointer.generation} was refused before` };
      return { kind: 'pointer', pointer };
    } catch (err) {
      return { kind: 'ignored', reason: errorText(err) };
    }
  }

  /**
   * The exact version the pointer names, verified before anything is written. `previous`: the policy applied now;
   * the new manifest is read against it (only what changed is read MAC by MAC), with the same result.
   */
  async fetch(pointer: Pointer, applied: AppliedRef | undefined, previous?: Policy): Promise<Fetched> {
    const fetched = await this.fetchVerified(pointer, applied, previous);
    if (fetched.kind === 'refused' && this.fromFast.has(pointerId(pointer))) {
      // Refused like any pointer; and from now on the fast pointer's copy is ignored, so SSM's answer takes over.
      remember(this.refusedFast, pointerId(pointer));
      this.previous = this.lastSsm;
    }
    return fetched;
  }

  private async fetchVerified(pointer: Pointer, applied: AppliedRef | undefined, previous: Policy | undefined): Promise<Fetched> {
    const refusal = pointerRefusal(pointer, this.site, applied);
    if (refusal) return { kind: 'refused', pointer, reason: refusal.message };
    try {
      const obj = await this.store.getObject(pointer.key, pointer.versionId);
      if (!obj) return { kind: 'refused', pointer, reason: new InputError('pointer.versionId', pointer.versionId, `no such version of ${pointer.key}`).message };
      return { kind: 'verified', pointer, manifest: this.verify(obj.bytes, pointer, previous) };
    } catch (err) {
      return err instanceof InputError ? { kind: 'refused', pointer, reason: err.message } : { kind: 'unreachable', pointer, error: errorText(err) };
    }
  }

  /** The one place a manifest's bytes are judged: signature, digest against the pointer, schema, site, generation. */
  private verify(bytes: Uint8Array, pointer: Pointer, previous: Policy | undefined): Manifest {
    // The signature first, over the digest the pointer claims (nothing unauthenticated is parsed); verifyManifest then
    // holds the bytes to that digest. A replayed older generation was refused on the pointer, signed or not.
    verifyManifestSignature(pointer.sha256, pointer.signature, this.trust, 'pointer.signature');
    return verifyManifest(bytes, pointer, previous ? { site: this.site, previous } : { site: this.site });
  }

  /**
   * For one-shot commands: the published manifest, verified; undefined when nothing is published. A refusal is an
   * InputError (exit 2), an unreachable store an Error (exit 1).
   */
  async current(applied: AppliedRef | undefined): Promise<{ pointer: Pointer; manifest: Manifest } | undefined> {
    const read = await this.readPointer();
    if (read.kind === 'unpublished') return undefined;
    // The store's own refusal, as it named the input (a missing store directory, a pointer that is not JSON).
    if (read.kind === 'refused') throw read.error;
    if (read.kind === 'unreachable') throw new Error(`store unreachable (${this.store.description}): ${read.error}`);
    const f = await this.fetch(read.pointer, applied);
    if (f.kind === 'refused') throw new InputError('manifest', this.site, `refused: ${f.reason}`);
    if (f.kind === 'unreachable') throw new Error(`store unreachable (${this.store.description}): ${f.error}`);
    return { pointer: f.pointer, manifest: f.manifest };
  }
}
