/**
 * A background duty of a worker (heartbeat, rescuer): runs `runOnce` every interval until stopped.
 * Tests call `runOnce` directly instead of waiting for the timer. A failing run is logged and the
 * next one happens on schedule: a database outage must not end the duty.
 */
import type { Logger } from "./logger.js";

export abstract class PeriodicService {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private running = false;

  protected constructor(
    protected readonly name: string,
    protected readonly log: Logger,
  ) {}

  /** Milliseconds until the next run; read before every run so config changes apply. */
  protected abstract intervalMs(): number;

  abstract runOnce(): Promise<unknown>;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Runs now instead of at the next tick (e.g. a NOTIFY asked for it). */
  trigger(): void {
    if (!this.running || this.inFlight) return;
    clearTimeout(this.timer);
    this.tick();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.tick(), this.intervalMs());
    this.timer.unref();
  }

  private tick(): void {
    this.inFlight = this.runOnce()
      .then(
        () => undefined,
        (err: unknown) => this.log.warn({ err: (err as Error).message, service: this.name }, `${this.name} failed; will retry`),
      )
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
  }
}
