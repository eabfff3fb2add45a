/**
 * The messages sent to workers on CONTROL_CHANNEL, declared once: the statements that send them build
 * the payload in SQL with `notifyControl` (so the message goes out on the commit of the change it
 * announces), and the worker's listener reads it with `parseControlMessage`. A message is only a
 * hint: each worker also finds every change on its next heartbeat or poll.
 */
import { CONTROL_CHANNEL } from "./channels.js";

export type ControlMessage =
  /** `worker stop`: the worker re-reads its row at once instead of at its next heartbeat. */
  | { kind: "stop"; worker: string }
  /** `cancel` of a running job: its worker ends the command now. */
  | { kind: "cancel"; job: string; worker: string }
  /** `kill`: a signal waits on the job's row for its worker to send it. */
  | { kind: "signal"; job: string; worker: string }
  /** A queue's pause or concurrency limit changed. */
  | { kind: "queue"; queue: string }
  /** A schedule was added, removed, paused or resumed. */
  | { kind: "schedules" }
  /** `config set`: every worker reloads the config now, not at its next heartbeat. */
  | { kind: "config"; key: string };

type Kind = ControlMessage["kind"];
/** Each message's fields as SQL expressions of the sending statement (the `kind` is added). */
type SqlFields<K extends Kind> = { [F in Exclude<keyof Extract<ControlMessage, { kind: K }>, "kind">]: string };

/**
 * `pg_notify(...)` of one control message, as an SQL expression: `fields` maps each of the message's
 * fields to an SQL expression of type text, e.g. notifyControl("cancel", { job: "c.id", worker: "c.worker_id" }).
 */
export function notifyControl<K extends Kind>(kind: K, fields: SqlFields<K>): string {
  const pairs = Object.entries(fields as Record<string, string>).map(([name, expr]) => `'${name}', ${expr}`);
  return `pg_notify('${CONTROL_CHANNEL}', json_build_object('kind', '${kind}'${pairs.map((p) => `, ${p}`).join("")})::text)`;
}

const FIELDS: { [K in Kind]: ReadonlyArray<Exclude<keyof Extract<ControlMessage, { kind: K }>, "kind">> } = {
  stop: ["worker"],
  cancel: ["job", "worker"],
  signal: ["job", "worker"],
  queue: ["queue"],
  schedules: [],
  config: ["key"],
};

/** A payload received on CONTROL_CHANNEL as a ControlMessage, or null when it is not one (ignored). */
export function parseControlMessage(payload: string): ControlMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  const o = value as Record<string, unknown>;
  const kind = o.kind;
  if (typeof kind !== "string" || !Object.prototype.hasOwnProperty.call(FIELDS, kind)) return null;
  for (const field of FIELDS[kind as Kind]) if (typeof o[field] !== "string") return null;
  return o as unknown as ControlMessage;
}
