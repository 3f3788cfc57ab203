// Where one command spends its time, stage by stage, on stderr when NOTRACK_TIMINGS is set (any value): the wall
// clock and this process's CPU (user + system) since the previous mark. For finding what an apply is slow at on a
// real host; off, a mark costs one branch.
const on = Boolean(process.env['NOTRACK_TIMINGS']);
// The first stage counts from the process's start (Node itself and module loading included).
let wall = 0;
let cpu: NodeJS.CpuUsage = { user: 0, system: 0 };

/** Ends a stage: prints `notrack timing: <stage> <wall> ms (CPU <cpu> ms)` when timings are on. */
export function stageDone(stage: string): void {
  if (!on) return;
  const nowWall = performance.now();
  const used = process.cpuUsage(cpu);
  process.stderr.write(
    `notrack timing: ${stage} ${Math.round(nowWall - wall)} ms (CPU ${Math.round((used.user + used.system) / 1000)} ms)\n`,
  );
  wall = nowWall;
  cpu = process.cpuUsage();
}
