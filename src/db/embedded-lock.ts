/**
 * A cross-process lock file (used around "is the local server running? if not, start it").
 *
 * The lock is a file created atomically (hard link, see tryCreate) holding "<pid> <token>". A holder that died (crash,
 * kill -9, reboot) leaves the file behind, so a waiter breaks it when the recorded pid no longer
 * exists, or when the file is older than `staleMs` whatever the pid says (pids are reused after a
 * reboot and are meaningless across pid namespaces). Breaking is itself done under a short-lived
 * second lock file and re-checks that the lock still holds the very content judged stale, so two
 * waiters breaking at once cannot delete a lock that a third process has just taken.
 */
import { randomBytes } from "node:crypto";
import { link, readFile, stat, unlink, utimes, writeFile } from "node:fs/promises";

export interface LockOptions {
  /** Give up waiting after this long. */
  timeoutMs: number;
  /** A lock file older than this is stale even when its pid looks alive. Must exceed the longest hold. */
  staleMs: number;
  /** Called with the holder's pid when the wait times out, to build the error. */
  onTimeout: (holder: string) => Error;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process with this pid exists (one of another user counts). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Creates `path` holding `content`, atomically: the content is written to a private file first and
 * then hard-linked into place (link fails with EEXIST when the lock exists), so nobody ever reads a
 * lock file that is created but still empty and mistakes it for a stale one.
 */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, content, { mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Reads the lock; null when it vanished. */
async function readLock(path: string): Promise<{ content: string; pid: number; ageMs: number } | null> {
  try {
    const [content, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { content, pid: Number.parseInt(content, 10), ageMs: Date.now() - st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Removes `path` if it still holds `staleContent`. Holding `path.break` for a few ms makes this atomic. */
async function breakStale(path: string, staleContent: string): Promise<void> {
  const breaker = `${path}.break`;
  if (!(await tryCreate(breaker, String(process.pid)))) {
    // Someone else is breaking it right now (a few ms), unless that one died mid-way long ago.
    const b = await readLock(breaker);
    if (b && b.ageMs > 10_000) await unlink(breaker).catch(() => {});
    return;
  }
  try {
    const now = await readLock(path);
    if (now && now.content === staleContent) await unlink(path).catch(() => {});
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/** Runs `fn` while holding the lock file at `path`, waiting for other holders. */
export async function withFileLock<T>(path: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const content = `${process.pid} ${randomBytes(8).toString("hex")}\n`;
  const deadline = Date.now() + options.timeoutMs;
  let delay = 20;
  let lastHolder = "unknown";
  for (;;) {
    if (await tryCreate(path, content)) break;
    const held = await readLock(path);
    if (held) {
      lastHolder = String(Number.isNaN(held.pid) ? "unknown" : held.pid);
      // An unreadable pid (foreign or damaged file) is judged by age alone.
      const dead = !Number.isNaN(held.pid) && !pidAlive(held.pid);
      if (dead || held.ageMs > options.staleMs) {
        await breakStale(path, held.content);
        continue;
      }
    }
    if (Date.now() > deadline) throw options.onTimeout(lastHolder);
    await sleep(delay);
    delay = Math.min(delay * 1.5, 200);
  }
  // Keep the mtime fresh while we hold it, so a long hold is never mistaken for a stale one.
  const touch = setInterval(() => {
    const t = new Date();
    utimes(path, t, t).catch(() => {});
  }, Math.max(1000, Math.floor(options.staleMs / 3)));
  touch.unref();
  try {
    return await fn();
  } finally {
    clearInterval(touch);
    // Only remove it if it is still ours (it could have been broken as stale if we were frozen).
    const now = await readLock(path).catch(() => null);
    if (now && now.content === content) await unlink(path).catch(() => {});
  }
}
