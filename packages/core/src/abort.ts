/**
 * Waits that take an `AbortSignal` end the way `fetch` does: with the signal's reason (by default
 * a `DOMException` named `AbortError`), so callers tell a cancellation from a failure by what they
 * passed in.
 */

/**
 * Calls `onAbort` with the signal's reason when `signal` aborts (at once when it already has).
 * @returns a function that stops listening: call it when the wait ends otherwise.
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: (reason: unknown) => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    onAbort(signal.reason);
    return () => undefined;
  }
  const listener = () => onAbort(signal.reason);
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
