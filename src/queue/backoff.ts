/**
 * Delay before the retry that follows attempt `attempt` (1-based): backoff_base ^ attempt seconds,
 * capped at backoff_max_s. Base 2 gives 2 s, 4 s, 8 s ... The SQL in sql.ts computes the same thing
 * inside the failing statement; this copy is for display (`show`) and for tests.
 */
export function retryDelaySeconds(attempt: number, backoffBase: number, backoffMaxS: number): number {
  return Math.min(Math.pow(backoffBase, attempt), backoffMaxS);
}
