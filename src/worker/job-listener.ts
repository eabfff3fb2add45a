/**
 * LISTENs for new jobs and control messages on a dedicated connection (a pooled one would be handed to
 * other queries). Reconnects with backoff when the connection drops; while it is down the worker
 * simply polls. Notifications only wake the worker early: correctness never depends on one arriving.
 *
 * Each connection is proven before it is trusted: it LISTENs on a channel of its own and the worker's
 * pool sends a NOTIFY there. Through a transaction-mode pooler (PgBouncer, RDS Proxy, Supavisor) the
 * LISTEN lands on a server connection that is handed to other clients after the statement, and
 * notifications never come back; then the listener says so once, closes, and the worker polls every
 * poll_interval_ms. DATABASE_LISTEN_URL (a direct or session-mode address) gives it a session.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { CONTROL_CHANNEL, JOBS_CHANNEL } from "../queue/sql/channels.js";
import { parseControlMessage, type ControlMessage } from "../queue/sql/control-messages.js";
import type { Logger } from "./logger.js";

export interface JobListenerDeps {
  url: string;
  log: Logger;
  /** A job became runnable in `queue`. */
  onJobs: (queue: string) => void;
  /** A control message (control-messages.ts); payloads that are not one are ignored. */
  onControl: (message: ControlMessage) => void;
  /** The connection was (re)established: jobs may have arrived unnoticed meanwhile. */
  onReconnect: () => void;
  /** Sends a NOTIFY on `channel` through another connection (the worker's pool). */
  notify: (channel: string) => Promise<void>;
}

/** A probe's NOTIFY arrives within milliseconds on a session; this allows for a loaded server. */
const PROBE_TIMEOUT_MS = 3000;
/** Probes sent before concluding that notifications cannot arrive on this address. */
const PROBE_TRIES = 2;

export class JobListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly probeChannel = `queuectl_probe_${randomBytes(6).toString("hex")}`;
  private probeArrived: (() => void) | undefined;
  /** False once a probe never arrived: the worker polls, and no reconnect is tried. */
  private usable = true;

  constructor(private readonly deps: JobListenerDeps) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.deps.url, connectionTimeoutMillis: 5000, keepAlive: true, application_name: "queuectl-listen" });
    client.on("error", () => this.reconnectLater(client));
    client.on("end", () => this.reconnectLater(client));
    client.on("notification", (msg) => {
      if (msg.channel === this.probeChannel) this.probeArrived?.();
      else if (msg.channel === JOBS_CHANNEL) this.deps.onJobs(msg.payload ?? "");
      else if (msg.channel === CONTROL_CHANNEL) {
        const message = parseControlMessage(msg.payload ?? "");
        if (message) this.deps.onControl(message);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}; LISTEN ${CONTROL_CHANNEL}; LISTEN ${this.probeChannel}`);
      this.client = client;
      this.retryMs = 250;
      this.deps.onReconnect();
      // Proven in the background: the worker claims (and polls) meanwhile, as it would without it.
      void this.prove(client);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "LISTEN connection failed; polling until it is back");
      this.reconnectLater(client);
    }
  }

  /** Keeps `client` if a probe comes back on it; otherwise says so once, closes it, and the worker polls. */
  private async prove(client: pg.Client): Promise<void> {
    const ok = await this.probe().catch(() => true); // a probe that could not be sent: an outage, handled by reconnecting
    if (ok || this.stopped || this.client !== client) return;
    this.usable = false;
    this.client = undefined;
    this.deps.log.warn(
      { channel: this.probeChannel },
      "notifications do not arrive through this database address (a transaction-mode pooler?): polling every poll_interval_ms; " +
        "set DATABASE_LISTEN_URL to a direct or session-mode address for instant pickup",
    );
    client.removeAllListeners("end");
    await client.end().catch(() => {});
  }

  /** Sends probe NOTIFYs through the pool until one arrives here; false when none did. */
  private async probe(): Promise<boolean> {
    for (let i = 0; i < PROBE_TRIES; i++) {
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<boolean>((resolve) => {
        this.probeArrived = () => resolve(true);
        timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
      });
      await this.deps.notify(this.probeChannel);
      const ok = await arrived;
      clearTimeout(timer);
      this.probeArrived = undefined;
      if (ok) return true;
      if (this.stopped) return false;
    }
    return false;
  }

  private reconnectLater(client: pg.Client): void {
    if (this.stopped || !this.usable) return;
    if (this.client && this.client !== client) return; // an old client's late event
    this.client = undefined;
    client.removeAllListeners("end");
    client.end().catch(() => {});
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 5000);
  }
}
