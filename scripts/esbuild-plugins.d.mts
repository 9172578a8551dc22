import type { Plugin } from 'esbuild';

export declare const zodEnglishOnly: Plugin;
export declare const commanderLazyChildProcess: Plugin;
