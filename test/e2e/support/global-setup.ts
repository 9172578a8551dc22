/**
 * Global setup of the e2e project: gives the run an id (namespace names carry it) and, at the end, removes
 * any namespace of this run a crashed worker left behind, killing the processes inside by PID first.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { runPrefix } from './names.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eRunId: string;
  }
}

export default function setup(project: TestProject) {
  const runId = String(process.pid);
  project.provide('e2eRunId', runId);
  return () => {
    let names: string[];
    try {
      names = readdirSync('/run/netns').filter((n) => n.startsWith(runPrefix(runId)));
    } catch {
      return;
    }
    for (const ns of names) {
      let pids: number[] = [];
      try {
        pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
      } catch {
        // The namespace is going away already.
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Exited meanwhile.
        }
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
      console.warn(`e2e global teardown: removed leftover network namespace ${ns} (killed ${pids.length} processes)`);
    }
  };
}
