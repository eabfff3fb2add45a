/**
 * The delay before a failed job's next attempt, as an SQL expression shared by every statement that
 * schedules a retry (outcomes.ts failJob, leases.ts rescueExpiredJobs), so they cannot drift apart.
 *
 * backoff_base ^ n seconds after the n-th counted attempt, at most backoff_max_s, then shortened by a
 * random share of up to backoff_jitter. The power is taken as exp(n * ln(base)) with the exponent
 * capped at 700 (e^700 is about 1e304, inside float8), so it is finite for every base and attempt
 * count: power(100, 155) overflowed float8, and the statement recording that failure then failed for
 * every row it served. After the cap the value is at most backoff_max_s (at most a year), which
 * make_interval takes.
 */
export function retryDelaySql(p: { attempts: string; base: string; maxS: string; jitter: string }): string {
  return `make_interval(secs => least(greatest(${p.maxS}, 0), exp(least(${p.attempts} * ln(greatest(${p.base}, 1)), 700)))
                                 * (1 - least(greatest(${p.jitter}, 0), 1) * random()))`;
}
