import { InputError } from '../core/errors.ts';
import type { ParsedExport } from '../core/export-bundle.ts';
import { type Policy, type PolicyExplanation, type PolicyInput, type PolicyStats, computePolicy } from '../core/policy.ts';
import type { SiteSettings } from '../core/settings.ts';

/** Apply a site's settings to a parsed export: the source decides which document says "inspecting". */
export function policyFromExport(parsed: ParsedExport, settings: SiteSettings): { policy: Policy; stats: PolicyStats } {
  return computePolicy(policyInput(parsed, settings));
}

/** The same computation, with the decision behind every MAC (for the provenance kept beside each manifest). */
export function explainedPolicyFromExport(parsed: ParsedExport, settings: SiteSettings): { policy: Policy; stats: PolicyStats; explanation: PolicyExplanation } {
  return computePolicy(policyInput(parsed, settings), { explain: true });
}

export function policyInput(parsed: ParsedExport, settings: SiteSettings): PolicyInput {
  if (settings.source === 'inspector' && !parsed.introspections) {
    throw new InputError('introspection', undefined, 'the site uses source "inspector" but the export has no ironic-inspector introspection list');
  }
  if (settings.source === 'ironic' && !parsed.nodes) {
    throw new InputError('nodes', undefined, 'the site uses source "ironic" but the export has no Ironic node list');
  }
  return {
    ports: parsed.ports,
    source:
      settings.source === 'inspector'
        ? { kind: 'inspector', introspections: parsed.introspections ?? [] }
        : { kind: 'ironic', nodes: parsed.nodes ?? [], supportedInspectInterfaces: settings.supportedInspectInterfaces },
    discovery: settings.discovery,
    denyUnknownMacs: settings.denyUnknownMacs,
  };
}
