/** Where things live in a store, per site (docs/design.md §1). One place, so IAM policies and code agree. */
export const exportsPrefix = (site: string) => `exports/${site}/`;
export const manifestKey = (site: string) => `manifests/${site}/manifest.json`;
/** Why each MAC of a generation has its verdict (core/provenance.ts): one versioned object beside the manifest. */
export const provenanceKey = (site: string) => `manifests/${site}/provenance.json`;
export const acksPrefix = (site: string) => `acks/${site}/`;
export const ackKey = (site: string, host: string) => `acks/${site}/${host}.json`;
export const pointerParameter = (site: string) => `/pxe-filter/${site}/current`;
export const settingsParameter = (site: string) => `/pxe-filter/${site}/settings`;

/** Export bundles are named by time so that the newest sorts last. */
export function exportKey(site: string, at: Date): string {
  return `${exportsPrefix(site)}${at.toISOString().replaceAll(':', '').replace('.', '-')}.json`;
}
