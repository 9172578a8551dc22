/** Constants the `export` command's flags need before the exporter is loaded. */

/**
 * 1.43 is the lowest Ironic API version with everything we read: `inspect_interface` (1.31), the
 * `inspect wait` state (1.39; older versions report it as `inspecting`) and `?detail=True` (1.43).
 * Pinning the lowest keeps older Ironic releases working and the documents stable across upgrades.
 */
export const DEFAULT_IRONIC_API_VERSION = '1.43';
