/**
 * The folders' dependency rules live in eslint.config.js (issue 13): a wrong arrow must fail `npm test`. Each case
 * lints one line as if it stood in a file of that folder, with the project's own config.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.ts';

const eslint = new ESLint({ cwd: REPO_ROOT });

async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport {};\n`, { filePath: `${REPO_ROOT}/${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('folder boundaries (eslint no-restricted-imports)', () => {
  it.each([
    ['core/x.ts', "import '../agent/daemon.ts';"],
    ['core/x.ts', "import '../store/files.ts';"],
    ['core/x.ts', "import { readFileSync } from 'node:fs';"],
    ['core/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['functions/x.ts', "import '../agent/daemon.ts';"],
    ['functions/x.ts', "import '../cli/main.ts';"],
    ['agent/x.ts', "import '../control/publish.ts';"],
    ['agent/x.ts', "import '../infra/stack.ts';"],
    ['exporter/x.ts', "import '../cli/io.ts';"],
    ['exporter/x.ts', "import '../agent/log.ts';"],
    ['infra/x.ts', "import '../agent/config.ts';"],
    ['store/x.ts', "import '../control/publish.ts';"],
    ['control/x.ts', "import '../agent/report.ts';"],
    ['agent/sub/x.ts', "import '../../cli/main.ts';"],
  ])('%s may not: %s', async (file, source) => {
    expect(await restricted(file, source)).toHaveLength(1);
  });

  it.each([
    ['core/x.ts', "import { createHash } from 'node:crypto';"],
    ['agent/x.ts', "import '../store/pointer.ts';"],
    ['control/x.ts', "import '../core/ack.ts';"],
    ['cli/commands/x.ts', "import '../../agent/daemon.ts'; import '../../control/publish.ts';"],
    ['exporter/x.ts', "import '../store/files.ts';"],
  ])('%s may: %s', async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
