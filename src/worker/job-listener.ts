/**
 * LISTENs for new jobs and control messages on a dedicated connection (a pooled one would be handed to
 * other queries). Reconnects with backoff when the connection drops; while it is down the worker
 * simply polls. Notifications only wake the worker early: correctness never depends on one arriving.
 */
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
}

export class JobListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | undefined;

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
      if (msg.channel === JOBS_CHANNEL) this.deps.onJobs(msg.payload ?? "");
      else if (msg.channel === CONTROL_CHANNEL) {
        const message = parseControlMessage(msg.payload ?? "");
        if (message) this.deps.onControl(message);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}; LISTEN ${CONTROL_CHANNEL}`);
      this.client = client;
      this.retryMs = 250;
      this.deps.onReconnect();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "LISTEN connection failed; polling until it is back");
      this.reconnectLater(client);
    }
  }

  private reconnectLater(client: pg.Client): void {
    if (this.stopped) return;
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
