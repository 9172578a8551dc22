/**
 * A small evaluator of the identity policies in a synthesized template, enough to answer "may this policy do
 * ACTION on RESOURCE?" for Allow statements with exact actions and ARN globs (what this stack writes).
 * CloudFormation tokens are resolved to fixed values so that ARNs become plain strings.
 */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const BUCKET = 'data-bucket';

type Json = unknown;

export function resolve(value: Json, resources: Record<string, { Type: string }>): string {
  if (typeof value === 'string') return value.replaceAll('${AWS::Partition}', 'aws').replaceAll('${AWS::Region}', REGION).replaceAll('${AWS::AccountId}', ACCOUNT);
  if (value && typeof value === 'object') {
    const o = value as Record<string, Json>;
    if ('Ref' in o) {
      const ref = String(o.Ref);
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === 'AWS::Region') return REGION;
      if (ref === 'AWS::AccountId') return ACCOUNT;
      if (resources[ref]?.Type === 'AWS::S3::Bucket') return ref === dataBucketId(resources) ? BUCKET : `${ref.toLowerCase()}-bucket`;
      return `ref:${ref}`;
    }
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      if (resources[id]?.Type === 'AWS::S3::Bucket' && attr === 'Arn') return `arn:aws:s3:::${id === dataBucketId(resources) ? BUCKET : `${id.toLowerCase()}-bucket`}`;
      return `getatt:${id}.${attr}`;
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, Json[]];
      return parts.map((p) => resolve(p, resources)).join(sep);
    }
    if ('Fn::Sub' in o) return resolve(o['Fn::Sub'], resources);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

function dataBucketId(resources: Record<string, { Type: string }>): string {
  return Object.keys(resources).find((k) => k.startsWith('Data') && resources[k]!.Type === 'AWS::S3::Bucket')!;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: Json | Json[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * A resource pattern with policy variables (`${aws:PrincipalTag/x509Subject/CN}`) filled in from the request
 * context; a variable the context lacks makes the pattern match nothing, as IAM does.
 */
function matchesResource(pattern: string, resource: string, context: Record<string, string>): boolean {
  let missing = false;
  const filled = pattern.replace(/\$\{([^}]+)\}/g, (_, key: string) => {
    const v = context[key];
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return !missing && glob(filled, resource);
}

/** Allowed by some Allow statement, ignoring statements with conditions unless `context` satisfies them. */
export function allows(statements: Statement[], resources: Record<string, { Type: string }>, action: string, resource: string, context: Record<string, string> = {}): boolean {
  return statements.some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (!asArray(s.Action).some((a) => glob(a, action))) return false;
    if (!asArray(s.Resource).some((r) => matchesResource(resolve(r, resources), resource, context))) return false;
    for (const [op, kv] of Object.entries(s.Condition ?? {})) {
      if (op === 'ForAllValues:StringEquals') {
        // Multi-valued keys (dynamodb:LeadingKeys): every value of the request must be listed; as in IAM, a request
        // without the key satisfies it (the context here always names the one value a GetItem/PutItem carries).
        if (!Object.entries(kv).every(([key, want]) => context[key] === undefined || asArray(want).includes(context[key]!))) return false;
        continue;
      }
      if (op !== 'StringLike' && op !== 'StringEquals') return false;
      for (const [key, want] of Object.entries(kv)) {
        const got = context[key];
        if (got === undefined || !asArray(want).some((w) => (op === 'StringLike' ? glob(w, got) : w === got))) return false;
      }
    }
    return true;
  });
}

/** Every statement of the policies attached to a role (inline AWS::IAM::Policy and managed policies). */
export function roleStatements(template: { Resources: Record<string, { Type: string; Properties: Record<string, Json> }> }, roleId: string): Statement[] {
  const out: Statement[] = [];
  const res = template.Resources;
  const role = res[roleId]!;
  for (const mp of asArray(role.Properties.ManagedPolicyArns as Json[])) {
    const id = (mp as { Ref?: string }).Ref;
    if (!id || res[id]?.Type !== 'AWS::IAM::ManagedPolicy') throw new Error(`role ${roleId} has an AWS managed policy ${JSON.stringify(mp)}`);
    out.push(...((res[id]!.Properties.PolicyDocument as { Statement: Statement[] }).Statement));
  }
  for (const r of Object.values(res)) {
    if (r.Type === 'AWS::IAM::Policy' && asArray(r.Properties.Roles as Json[]).some((x) => (x as { Ref?: string }).Ref === roleId)) {
      out.push(...((r.Properties.PolicyDocument as { Statement: Statement[] }).Statement));
    }
  }
  return out;
}
