import { defaultLifecycle } from '@ordo/orders';
import { renderTable } from '../table.js';

/** `ordo lifecycle`: the order lifecycle as a table of statuses and their next steps, or as Mermaid. */
export function lifecycle(options: { mermaid?: boolean }): void {
  if (options.mermaid) {
    process.stdout.write(`${defaultLifecycle.toMermaid()}\n`);
    return;
  }
  const rows = defaultLifecycle.statuses.map((s) => {
    const kind = s === defaultLifecycle.initial ? 'initial' : defaultLifecycle.isTerminal(s) ? 'terminal' : '';
    return [s, kind, defaultLifecycle.allowed(s).join(', ') || '-'];
  });
  process.stdout.write(`${renderTable(['STATUS', 'KIND', 'NEXT'], rows)}\n`);
}
