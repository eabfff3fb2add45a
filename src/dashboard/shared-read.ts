/**
 * One database read shared by every caller that asks at the same time or within `ttlMs` of it: ten
 * open overview tabs (or a scraper and a curl) cost the database one query, not ten.
 */
export function sharedRead<T>(read: () => Promise<T>, p: { ttlMs: number }): () => Promise<T> {
  let current: { promise: Promise<T>; settledAt: number | null } | null = null;
  return () => {
    const now = Date.now();
    if (current && (current.settledAt === null || now - current.settledAt < p.ttlMs)) return current.promise;
    const entry: { promise: Promise<T>; settledAt: number | null } = { promise: read(), settledAt: null };
    entry.promise.then(
      () => {
        entry.settledAt = Date.now();
      },
      () => {
        // A failed read is not kept: the next caller tries again.
        if (current === entry) current = null;
      },
    );
    current = entry;
    return entry.promise;
  };
}
