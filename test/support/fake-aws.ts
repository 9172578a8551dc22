/**
 * An in-memory S3 bucket (versioning, conditional writes, paginated listings) and SSM parameter store,
 * served behind aws-sdk-client-mock. Behaves like the real services on the paths the store uses, including
 * their error shapes (names and HTTP status), so the AwsStore's error mapping is exercised for real.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { GetParameterCommand, PutParameterCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { type AttributeValue, ConditionalCheckFailedException, DynamoDBClient, DynamoDBServiceException, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';

type PutInput = { Key: string; Body: Uint8Array | string; IfMatch?: string; IfNoneMatch?: string; ContentType?: string };

interface Version {
  versionId: string;
  etag: string;
  bytes: Uint8Array;
  lastModified: Date;
  contentType?: string;
}

export function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });
}

export function ssmError(name: string, status: number): SSMServiceException {
  return new SSMServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });
}

export function ddbError(name: string, status: number): DynamoDBServiceException {
  return new DynamoDBServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });
}

type DdbPut = { TableName: string; Item: Record<string, AttributeValue>; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, AttributeValue> };
const itemKey = (table: string, key: Record<string, AttributeValue>) => `${table}/${key.site?.S ?? JSON.stringify(key)}`;

export class FakeAws {
  readonly objects = new Map<string, Version[]>(); // newest last
  readonly parameters = new Map<string, string>();
  /** DynamoDB items by `table/partition key value` (the fast pointers' table: partition key `site`). */
  readonly items = new Map<string, Record<string, AttributeValue>>();
  /** Every call, in order, across the three services: what ran before what. */
  readonly calls: string[] = [];
  /** Small pages so that every listing paginates. */
  pageSize = 2;
  private clock = Date.parse('2026-11-25T20:00:00Z');
  readonly s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  readonly ssm = new SSMClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  readonly s3Mock = mockClient(this.s3);
  readonly ssmMock = mockClient(this.ssm);
  readonly ddb = new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  readonly ddbMock = mockClient(this.ddb);

  constructor() {
    this.install();
  }

  /** (Re)install the fake behaviour, e.g. after a test overrode one command. */
  install(): void {
    const s3 = this.s3Mock;
    const ssm = this.ssmMock;
    s3.reset();
    ssm.reset();
    this.ddbMock.reset();
    this.ddbMock.on(GetItemCommand).callsFake((input: { TableName: string; Key: Record<string, AttributeValue> }) => this.getItem(input));
    this.ddbMock.on(PutItemCommand).callsFake((input: DdbPut) => this.putItem(input));
    s3.on(GetObjectCommand).callsFake((input: { Key: string; VersionId?: string }) => this.getObject(input));
    s3.on(PutObjectCommand).callsFake((input: PutInput) => this.putObject(input));
    s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string; ContinuationToken?: string }) => this.listObjectsV2(input));
    s3.on(ListObjectVersionsCommand).callsFake((input: { Prefix?: string; KeyMarker?: string; VersionIdMarker?: string }) => this.listObjectVersions(input));
    ssm.on(GetParameterCommand).callsFake((input: { Name: string }) => this.getParameter(input));
    ssm.on(PutParameterCommand).callsFake((input: { Name: string; Value: string; Overwrite?: boolean }) => this.putParameter(input));
  }

  getObject(input: { Key: string; VersionId?: string }) {
      const versions = this.objects.get(input.Key);
      const v = input.VersionId ? versions?.find((x) => x.versionId === input.VersionId) : versions?.at(-1);
      if (!v) throw s3Error(input.VersionId && versions ? 'NoSuchVersion' : 'NoSuchKey', 404);
      const bytes = v.bytes;
      return {
        Body: { transformToByteArray: async () => bytes, transformToString: async () => new TextDecoder().decode(bytes) },
        ETag: v.etag,
        VersionId: v.versionId,
        LastModified: v.lastModified,
      };
  }

  putObject(input: PutInput) {
      const versions = this.objects.get(input.Key) ?? [];
      const current = versions.at(-1);
      if (input.IfNoneMatch === '*' && current) throw s3Error('PreconditionFailed', 412);
      if (input.IfMatch !== undefined && current?.etag !== input.IfMatch) throw s3Error(current ? 'PreconditionFailed' : 'NoSuchKey', current ? 412 : 404);
      const bytes = typeof input.Body === 'string' ? new TextEncoder().encode(input.Body) : new Uint8Array(input.Body);
      const v: Version = {
        versionId: randomBytes(12).toString('base64url'),
        etag: `"${createHash('md5').update(bytes).digest('hex')}"`,
        bytes,
        lastModified: new Date((this.clock += 1000)),
        ...(input.ContentType ? { contentType: input.ContentType } : {}),
      };
      this.objects.set(input.Key, [...versions, v]);
      return { ETag: v.etag, VersionId: v.versionId };
  }

  listObjectsV2(input: { Prefix?: string; ContinuationToken?: string }) {
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(input.Prefix ?? '')).sort();
      const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
      const page = keys.slice(start, start + this.pageSize);
      const truncated = start + this.pageSize < keys.length;
      return {
        Contents: page.map((k) => {
          const v = this.objects.get(k)!.at(-1)!;
          return { Key: k, Size: v.bytes.byteLength, LastModified: v.lastModified, ETag: v.etag };
        }),
        IsTruncated: truncated,
        ...(truncated ? { NextContinuationToken: String(start + this.pageSize) } : {}),
      };
  }

  listObjectVersions(input: { Prefix?: string; KeyMarker?: string; VersionIdMarker?: string }) {
      const all = [...this.objects.keys()]
        .filter((k) => k.startsWith(input.Prefix ?? ''))
        .sort()
        .flatMap((k) => [...this.objects.get(k)!].reverse().map((v) => ({ Key: k, VersionId: v.versionId, LastModified: v.lastModified })));
      let start = 0;
      if (input.KeyMarker) start = all.findIndex((v) => v.Key === input.KeyMarker && v.VersionId === input.VersionIdMarker) + 1;
      const page = all.slice(start, start + this.pageSize);
      const truncated = start + this.pageSize < all.length;
      const last = page.at(-1);
      return {
        Versions: page,
        IsTruncated: truncated,
        ...(truncated && last ? { NextKeyMarker: last.Key, NextVersionIdMarker: last.VersionId } : {}),
      };
  }

  getParameter(input: { Name: string }) {
      this.calls.push(`GetParameter ${input.Name}`);
      const value = this.parameters.get(input.Name);
      if (value === undefined) throw ssmError('ParameterNotFound', 400);
      return { Parameter: { Name: input.Name, Value: value, Type: 'String' } };
  }

  putParameter(input: { Name: string; Value: string; Overwrite?: boolean }) {
      this.calls.push(`PutParameter ${input.Name}`);
      if (this.parameters.has(input.Name) && !input.Overwrite) throw ssmError('ParameterAlreadyExists', 400);
      this.parameters.set(input.Name, input.Value);
      return { Version: 1 };
  }

  /** Put an object directly (as another writer would), optionally with a given LastModified. */
  put(key: string, text: string, lastModified?: Date): void {
    const bytes = new TextEncoder().encode(text);
    const versions = this.objects.get(key) ?? [];
    this.objects.set(key, [
      ...versions,
      { versionId: randomBytes(12).toString('base64url'), etag: `"${createHash('md5').update(bytes).digest('hex')}"`, bytes, lastModified: lastModified ?? new Date((this.clock += 1000)) },
    ]);
  }

  getItem(input: { TableName: string; Key: Record<string, AttributeValue> }) {
    this.calls.push(`GetItem ${input.TableName}`);
    const item = this.items.get(itemKey(input.TableName, input.Key));
    return item ? { Item: item } : {};
  }

  /** PutItem with the one condition form the store writes: `attribute_not_exists(#n) OR #n <= :v` (numbers). */
  putItem(input: DdbPut) {
    this.calls.push(`PutItem ${input.TableName}`);
    const key = itemKey(input.TableName, { site: input.Item.site! });
    const current = this.items.get(key);
    if (input.ConditionExpression !== undefined) {
      if (input.ConditionExpression !== 'attribute_not_exists(#g) OR #g <= :g') throw new Error(`fake DynamoDB: unsupported condition ${input.ConditionExpression}`);
      const attr = input.ExpressionAttributeNames!['#g']!;
      const have = current?.[attr]?.N;
      if (have !== undefined && Number(have) > Number(input.ExpressionAttributeValues![':g']!.N)) {
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
      }
    }
    this.items.set(key, input.Item);
    return {};
  }

  restore(): void {
    this.s3Mock.restore();
    this.ssmMock.restore();
    this.ddbMock.restore();
  }
}
