/**
 * Slows down guessing the dashboard token. Login attempts from one client address are taken one at a
 * time, and a wrong token holds that client's line for FAILED_LOGIN_DELAY_MS: forty guesses sent at
 * once take twenty seconds, not the half second one delay would cost if each request waited alone. A
 * person who mistyped waits half a second. (Behind a proxy every client has the proxy's address and
 * shares one line; the token's length, at least 16 characters, is what makes guessing hopeless.)
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Pause after a wrong token, in ms. */
export const FAILED_LOGIN_DELAY_MS = 500;
/** Client addresses remembered at most; an idle client's line is forgotten first. */
const MAX_CLIENTS = 10_000;

export class LoginThrottle {
  private readonly lines = new Map<string, Promise<void>>();

  constructor(private readonly delayMs = FAILED_LOGIN_DELAY_MS) {}

  /**
   * Runs `check` after the client's earlier attempts have finished; when it returns false (a wrong
   * token), the client's next attempt waits delayMs more. Resolves with what `check` returned.
   */
  async attempt(client: string, check: () => boolean | Promise<boolean>): Promise<boolean> {
    const before = this.lines.get(client) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.lines.delete(client);
    this.lines.set(client, mine);
    if (this.lines.size > MAX_CLIENTS) this.lines.delete(this.lines.keys().next().value!);
    await before;
    try {
      const ok = await check();
      if (!ok) await sleep(this.delayMs);
      return ok;
    } finally {
      done();
      if (this.lines.get(client) === mine) this.lines.delete(client);
    }
  }
}
