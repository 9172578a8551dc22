import type { Plugin } from 'esbuild';

export declare const zodEnglishOnly: Plugin;
export declare const commanderLazyChildProcess: Plugin;
export declare function ownChunk(root: string, shared: readonly string[]): Plugin;
