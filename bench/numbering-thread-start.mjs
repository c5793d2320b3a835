// A worker thread does not inherit the TypeScript loader of its process: register it, then run the thread.
import { register } from 'tsx/esm/api';

register();
await import('./numbering-thread.ts');
