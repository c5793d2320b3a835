/**
 * CPU time spent on a measured phase: by this Node process (the client) and by the PostgreSQL
 * server (the postmaster and all its children, read from /proc). Unlike throughput, CPU per
 * operation hardly changes when other work shares the machine, so it shows what each store costs
 * even on a busy 2-core box. Server CPU is only known for a server the bench started itself.
 */
import { readdirSync, readFileSync } from 'node:fs';

let postmaster: number | undefined;

/** Where the server's CPU is read from (the postmaster's pid); unset: not measured. */
export function setServerPid(pid: number | undefined) {
  postmaster = pid;
}

const TICKS_PER_MS = 100 / 1000; // Linux USER_HZ is 100

function serverTicks(): number | undefined {
  if (postmaster === undefined) return undefined;
  let ticks = 0;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      if (pid !== postmaster && Number(fields[1]) !== postmaster) continue;
      // utime + stime, and the CPU of children it has reaped (backends that ended).
      ticks += Number(fields[11]) + Number(fields[12]);
      if (pid === postmaster) ticks += Number(fields[13]) + Number(fields[14]);
    }
  } catch {
    return undefined;
  }
  return ticks;
}

export interface CpuUse {
  /** Milliseconds of CPU used by this process. */
  clientMs: number;
  /** Milliseconds of CPU used by the server, or undefined when unknown. */
  serverMs: number | undefined;
}

/** Starts measuring; call the returned function at the end of the phase. */
export function startCpu(): () => CpuUse {
  const client0 = process.cpuUsage();
  const server0 = serverTicks();
  return () => {
    const client = process.cpuUsage(client0);
    const server1 = serverTicks();
    return {
      clientMs: (client.user + client.system) / 1000,
      serverMs: server0 === undefined || server1 === undefined ? undefined : (server1 - server0) / TICKS_PER_MS,
    };
  };
}

/** CPU per operation in microseconds, as `extra` fields of a measurement. */
export function cpuPer(use: CpuUse, operations: number): Record<string, number> {
  const per = (ms: number) => (ms * 1000) / Math.max(1, operations);
  return {
    clientCpuUs: per(use.clientMs),
    ...(use.serverMs !== undefined && { serverCpuUs: per(use.serverMs) }),
  };
}
