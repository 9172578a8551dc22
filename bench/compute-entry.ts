/**
 * Cold-process `compute` for the bench: the real CLI, plus one JSON line on stderr with the whole process's
 * wall time since start (performance.now() counts from process start), CPU and peak RSS.
 */
import { main } from '../cli/main.ts';

const code = await main(process.argv.slice(2));
const cpu = process.cpuUsage();
process.stderr.write(
  `${JSON.stringify({ wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, code })}\n`,
);
process.exitCode = code;
