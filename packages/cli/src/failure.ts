/** An error as one line for an operator: the typed error's message, what to do where we know, no stack. */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (code === '42P01') return `${error.message}: is the schema migrated? Run \`ordo migrate\` first`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') return `cannot reach PostgreSQL: ${error.message}`;
  if (code === '28P01' || code === '3D000') return `PostgreSQL refused the connection: ${error.message}`;
  if (error instanceof AggregateError && error.errors.length > 0) return describeFailure(error.errors[0]);
  return error.message;
}
