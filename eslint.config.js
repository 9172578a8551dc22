// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';


/**
 * The folders' dependency rules (docs/design.md §8): a wrong arrow fails `npm test`. `core` is pure
 * logic (no I/O, no AWS, nothing from the folders built on it); the Lambda, the agent, the exporter and the CDK
 * app do not reach into one another or into the CLI that composes them.
 */
const folder = (names) => `^(\\.\\./)+(${names.join('|')})/`;
const boundary = (files, names, why, extra = []) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ regex: folder(names), message: why }, ...extra] }],
  },
});
const IO_MODULES = ['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'node:http', 'node:https', 'node:dgram', 'node:os'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'dist/**', '.local/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  boundary(['core/**/*.ts'], ['agent', 'functions', 'infra', 'cli', 'exporter', 'store', 'control'], 'core/ is pure logic: it imports only core/ (and libraries without I/O)', [
    { regex: '^(' + IO_MODULES.map((m) => m.replace('/', '\\/')).join('|') + ')$', message: 'core/ does no I/O: pass data in, or move the I/O to store/, agent/ or cli/' },
    { regex: '^@aws-sdk/', message: 'core/ knows nothing of AWS: the store/ and control/ layers do' },
  ]),
  boundary(['functions/**/*.ts'], ['agent', 'cli'], 'functions/ (the Lambda) must not depend on the PXE-host agent or the CLI'),
  boundary(['agent/**/*.ts'], ['infra', 'functions', 'cli', 'control'], 'agent/ must not depend on the control plane, the Lambda, the CDK app or the CLI'),
  boundary(['exporter/**/*.ts'], ['cli', 'agent'], 'exporter/ must not depend on the CLI or the agent'),
  boundary(['infra/**/*.ts'], ['agent', 'cli'], 'infra/ must not depend on the agent or the CLI'),
  boundary(['store/**/*.ts'], ['agent', 'functions', 'infra', 'cli', 'exporter', 'control'], 'store/ is the storage contract: it depends on core/ only'),
  boundary(['control/**/*.ts'], ['agent', 'functions', 'infra', 'cli', 'exporter'], 'control/ runs over a store: it must not depend on the agent, the Lambda, the CDK app, the CLI or the exporter'),
);
