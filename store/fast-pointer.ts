/**
 * The fast pointer (docs/deploy.md, "Fleet scale"): a copy of each site's SSM pointer in one DynamoDB item, which
 * agents poll instead of SSM. SSM's standard throughput (40 GetParameter/s per account and region) cannot carry a
 * fleet polling every few seconds; an eventually consistent GetItem of a small item can, for a fraction of the cost.
 *
 * It is only a hint: the publisher writes it after the SSM pointer, agents verify whatever it names exactly like an
 * SSM pointer (site, key, replay, signature, digest), and still read SSM on a slower schedule.
 */
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Pointer } from '../core/manifest.ts';
import { DEFAULT_MAX_ATTEMPTS, type AwsClientOptions } from './aws-store.ts';
import { FAST_POINTER_KEY } from './keys.ts';

/** When the agent reads the authoritative SSM pointer besides the fast one. */
export interface SsmFallback {
  /** Read SSM at least this often while the fast pointer answers (it may lag after a failed write). */
  intervalMs: number;
  /** While the fast pointer fails (unreachable, absent, not a pointer), read SSM at most this often. */
  retryMs: number;
}

export interface FastPointer {
  readonly description: string;
  readonly fallback: SsmFallback;
  /** The pointer text last written for a site (undefined: none yet). Throws when unreachable. */
  read(site: string): Promise<string | undefined>;
  /** Write a pointer already in SSM. Never backwards: false when the item holds a newer generation. */
  write(pointer: Pointer): Promise<boolean>;
}

export const DEFAULT_SSM_FALLBACK: SsmFallback = { intervalMs: 300_000, retryMs: 30_000 };
/** The agent's attempts per fast-pointer read (the publisher keeps the store's default). */
export const FAST_POINTER_MAX_ATTEMPTS = 3;

export { DEFAULT_FAST_POINTER_TABLE } from './keys.ts';

export function makeDynamoClient(o: AwsClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    retryMode: 'standard',
    maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...(o.region ? { region: o.region } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials as never } : {}),
  });
}

export class DynamoFastPointer implements FastPointer {
  readonly description: string;
  constructor(
    readonly table: string,
    private readonly client: DynamoDBClient = makeDynamoClient(),
    readonly fallback: SsmFallback = DEFAULT_SSM_FALLBACK,
  ) {
    this.description = `DynamoDB table ${table}`;
  }

  async read(site: string): Promise<string | undefined> {
    // Eventually consistent: half the price of a strong read; a copy seconds old is still a hint, and SSM backs it.
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { [FAST_POINTER_KEY]: { S: site } }, ProjectionExpression: 'pointer', ConsistentRead: false }),
    );
    return out.Item?.pointer?.S;
  }

  /** The item: `site` (partition key), `generation` (for the forward-only condition), `pointer` (the SSM text). */
  async write(pointer: Pointer): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { [FAST_POINTER_KEY]: { S: pointer.site }, generation: { N: String(pointer.generation) }, pointer: { S: JSON.stringify(pointer) } },
          // A slow publisher must not undo a newer one (the same rule as the SSM pointer's).
          ConditionExpression: 'attribute_not_exists(#g) OR #g <= :g',
          ExpressionAttributeNames: { '#g': 'generation' },
          ExpressionAttributeValues: { ':g': { N: String(pointer.generation) } },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}
