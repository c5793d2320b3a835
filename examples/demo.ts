/**
 * `pnpm demo`: runs every example on the in-memory store (the embedded default) and prints a short
 * summary of each. `pnpm demo --store postgres` (or `--store=eventstoredb`) runs them there instead;
 * `pnpm demo --help` says how.
 */
import { adminStatusUpdates, printAdminPanel } from './admin-status-updates/admin-panel.js';
import { checkoutOrderNumbers, printCheckout } from './checkout-order-numbers/checkout.js';
import { DEMO_USAGE, UsageError, parseDemoArgs } from './demo-args.js';
import { fulfillmentSubmission, printFulfillment } from './fulfillment-submission/fulfillment.js';
import { orderStory, printOrderStory } from './order-story/story.js';
import { openStore } from './stores.js';
import { printTriageRotation, triageRotation } from './triage-rotation/triage.js';

/** The store the demo was asked for; prints the usage and exits on `--help` (0) or a bad command line (2). */
function storeFromCommandLine() {
  try {
    const args = parseDemoArgs(process.argv.slice(2));
    if (!args.help) return args.store;
    console.log(DEMO_USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`pnpm demo: ${error.message}\n\n${DEMO_USAGE}`);
    process.exit(2);
  }
}

function heading(title: string) {
  console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 72 - title.length))}`);
}

const kind = storeFromCommandLine();
const started = performance.now();
const { store, label, close } = await openStore(kind);
console.log(`Ordo demo on the ${label}`);

heading('One order: placed, placed again, raced over, audited');
printOrderStory(await orderStory(store));

heading('Checkout: order numbers that never collide');
printCheckout(await checkoutOrderNumbers(store, { checkouts: 1000 }));

heading('Admin panel: racing admins and a flaky e-mail/SMS provider');
printAdminPanel(await adminStatusUpdates(store));

heading('Fulfillment: a flaky provider, stuck submissions recovered');
printFulfillment(await fulfillmentSubmission(store));

heading('Triage rotation: the same core, another domain');
printTriageRotation(await triageRotation(store));

await close();
console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
