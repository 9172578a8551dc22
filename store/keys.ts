/** Where things live in a store, per site (docs/design.md §1). One place, so IAM policies and code agree. */
export const exportsPrefix = (site: string) => `exports/${site}/`;
/**
 * State exports (core/state-export.ts) live one level below the full exports: inside `exports/<site>/`, so the
 * S3 trigger, the exporter's and the compute's IAM grants and the retention rule that cover exports cover them
 * too, with no infrastructure change; in a folder of their own, so every reader of full exports (which takes only
 * the direct children of exports/<site>/) never mistakes one for an inventory.
 */
export const stateExportsPrefix = (site: string) => `${exportsPrefix(site)}state/`;
export const manifestKey = (site: string) => `manifests/${site}/manifest.json`;
/** Why each MAC of a generation has its verdict (core/provenance.ts): one versioned object beside the manifest. */
export const provenanceKey = (site: string) => `manifests/${site}/provenance.json`;
export const acksPrefix = (site: string) => `acks/${site}/`;
export const ackKey = (site: string, host: string) => `acks/${site}/${host}.json`;
export const pointerParameter = (site: string) => `/pxe-filter/${site}/current`;
export const settingsParameter = (site: string) => `/pxe-filter/${site}/settings`;
/**
 * The fast pointers' DynamoDB table (store/fast-pointer.ts): `<stack name>-pointers`, so agents of the default
 * stack (PxeFilter) need no setting. One item per site, keyed by FAST_POINTER_KEY.
 */
export const fastPointerTable = (stackName: string) => `${stackName}-pointers`;
export const DEFAULT_FAST_POINTER_TABLE = fastPointerTable('PxeFilter');
export const FAST_POINTER_KEY = 'site';

/** Export bundles are named by time so that the newest sorts last. */
export function exportKey(site: string, at: Date): string {
  return `${exportsPrefix(site)}${timeName(at)}.json`;
}

export function stateExportKey(site: string, at: Date): string {
  return `${stateExportsPrefix(site)}${timeName(at)}.json`;
}

const timeName = (at: Date) => at.toISOString().replaceAll(':', '').replace('.', '-');
