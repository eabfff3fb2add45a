/**
 * The randomized checker's driver: worker processes run jobs while random operator actions hit them,
 * chosen by a seeded generator, so a failing run can be replayed with its seed (the timing of a real
 * machine still varies; the sequence of choices does not).
 */
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { QueuectlError } from "../../../src/errors.js";
import { setConfigValue } from "../../../src/queue/config.js";
import { retryDead } from "../../../src/queue/dlq.js";
import { enqueueJobs } from "../../../src/queue/enqueue.js";
import type { JobSpec } from "../../../src/queue/job-spec.js";
import { cancel, kill, purge, requeue } from "../../../src/queue/operator.js";
import { setQueueConcurrency, setQueuePaused } from "../../../src/queue/queues.js";
import { addSchedule, removeSchedule } from "../../../src/queue/schedules.js";
import { requestWorkerStop } from "../../../src/queue/sql/workers.js";
import { startWorkerProcess, type WorkerProcess } from "../workers.js";

export const RECORDER = fileURLToPath(new URL("./recorder.pl", import.meta.url));

/** mulberry32: a small seeded generator; the same seed gives the same choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the driver knows of each job it enqueued (schedule ticks are learned from the table). */
export interface JobInfo {
  queue: string;
  dependsOn: string[];
  /** The run_at it was enqueued with (ms), if in the future. */
  runAt?: number;
  /**
   * When it was first sent back to pending by requeue or dlq retry (noted before the call): both set
   * run_at to now, so the run_at it was enqueued with no longer holds from then on.
   */
  requeuedAt?: number;
}

/** A change to a queue's pause or limit, with when it was made (ms). */
export interface QueueEvent {
  queue: string;
  at: number;
  paused?: boolean;
  /** undefined: unchanged; null: no limit. */
  limit?: number | null;
}

interface ChaosWorker {
  proc: WorkerProcess;
  frozenUntil?: number;
  stopping?: boolean;
}

export const QUEUES = ["q1", "q2", "q3"];
const SIGNALS = ["SIGTERM", "SIGINT", "SIGKILL", "SIGUSR1", "SIGHUP"] as const;

export class ChaosDriver {
  readonly jobs = new Map<string, JobInfo>();
  readonly queueEvents: QueueEvent[] = [];
  readonly counts: Record<string, number> = {};
  /** Errors an action should never meet (a QueuectlError, such as a refused requeue, is expected). */
  readonly unexpected: string[] = [];
  /** The largest lease_ms set (the checker's bound on how late the rescuer may be). */
  maxLeaseMs = 2000;
  private readonly random: () => number;
  private readonly workers: ChaosWorker[] = [];
  private nextJob = 0;
  private nextSchedule = 0;
  private readonly schedules = new Set<string>();
  /** Each schedule's queue: its ticks' jobs (`<name>@<tick>`) run there. */
  readonly scheduleQueues = new Map<string, string>();

  constructor(private readonly p: { pool: pg.Pool; url: string; dir: string; seed: number }) {
    this.random = seededRandom(p.seed);
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private count(action: string): void {
    this.counts[action] = (this.counts[action] ?? 0) + 1;
  }

  private get env(): NodeJS.ProcessEnv {
    return { DATABASE_URL: this.p.url, QUEUECTL_LOG_LEVEL: "warn" };
  }

  startWorker(): void {
    const concurrency = this.pick([1, 2, 3, 4]);
    this.workers.push({ proc: startWorkerProcess(["--concurrency", String(concurrency)], this.env) });
    this.count("worker start");
  }

  /** Workers that run and are not frozen or stopping: at least one is kept, so the rescuer keeps running. */
  private liveWorkers(): ChaosWorker[] {
    return this.workers.filter((w) => w.proc.child.exitCode === null && w.proc.child.signalCode === null && w.frozenUntil === undefined && !w.stopping);
  }

  async setUp(): Promise<void> {
    await setConfigValue(this.p.pool, "lease_ms", "2000");
    await setConfigValue(this.p.pool, "poll_interval_ms", "200");
    await setConfigValue(this.p.pool, "backoff_base", "1.5");
    await setConfigValue(this.p.pool, "backoff_max_s", "2");
    await setConfigValue(this.p.pool, "backoff_jitter", "0.3");
    for (let i = 0; i < 3; i++) this.startWorker();
  }

  /**
   * The recorder's command line. The history file is an argument, not an environment variable: a
   * job's command sees only the environment it asked for, never its worker's.
   */
  private recorder(mode: string, ms: number, exit: number): string {
    return `perl ${RECORDER} ${this.p.dir}/history ${mode} ${ms} ${exit}`;
  }

  /** A job spec with a random command (recorder.pl) and random options. */
  private spec(id: string, dependsOn: string[] = []): JobSpec {
    const mode = this.pick(["plain", "plain", "plain", "plain", "stubborn", "spawner"]);
    const ms = this.pick([0, 20, 50, 200, 500, 1500, 3000]);
    const exit = this.pick([0, 0, 0, 0, 0, 1, 3, 75]);
    const spec: JobSpec = { id, command: this.recorder(mode, ms, exit), queue: this.pick(QUEUES), max_retries: this.pick([0, 1, 2, 3]) };
    if (this.chance(0.3)) spec.priority = this.pick([-5, 0, 5, 10]);
    if (this.chance(0.1)) spec.timeout = this.pick([300, 1000]);
    if (this.chance(0.1)) spec.run_at = new Date(Date.now() + this.pick([500, 2000, 5000])).toISOString();
    if (this.chance(0.08)) spec.unique_key = this.pick(["u1", "u2", "u3"]);
    if (this.chance(0.05)) spec.no_retry_on = [3];
    if (dependsOn.length > 0) spec.depends_on = dependsOn;
    return spec;
  }

  /** The queue a job of this run belongs to (a schedule tick's from its schedule), if known. */
  queueOf(job: string): string | undefined {
    return this.jobs.get(job)?.queue ?? this.scheduleQueues.get(job.split("@")[0]!);
  }

  private remember(spec: JobSpec): void {
    this.jobs.set(spec.id!, { queue: spec.queue ?? "default", dependsOn: spec.depends_on ?? [], runAt: spec.run_at ? Date.parse(spec.run_at) : undefined });
  }

  private noteRequeue(ids: readonly string[]): void {
    const now = Date.now();
    for (const id of ids) {
      const info = this.jobs.get(id);
      if (info && info.requeuedAt === undefined) info.requeuedAt = now;
    }
  }

  /** Ids of jobs in these states (from the table), at most `limit`, in a random order. */
  private async jobsIn(states: readonly string[], limit = 20): Promise<string[]> {
    const res = await this.p.pool.query<{ id: string }>("SELECT id FROM jobs WHERE state::text = ANY($1) ORDER BY random() LIMIT $2", [states, limit]);
    return res.rows.map((r) => r.id);
  }

  /** One random action; returns its name. */
  async step(): Promise<void> {
    const r = this.random();
    try {
      if (r < 0.3) await this.enqueueOne();
      else if (r < 0.4) await this.enqueueBatch();
      else if (r < 0.5) await this.cancelOne();
      else if (r < 0.55) await this.killOne();
      else if (r < 0.63) await this.requeueSome();
      else if (r < 0.69) await this.retrySomeDead();
      else if (r < 0.72) await this.purgeSome();
      else if (r < 0.77) await this.changeConfig();
      else if (r < 0.84) await this.changeQueue();
      else if (r < 0.87) await this.changeSchedules();
      else await this.hitWorker();
    } catch (err) {
      if (!(err instanceof QueuectlError)) this.unexpected.push(`${(err as Error).stack ?? String(err)}`);
    }
  }

  private async enqueueOne(): Promise<void> {
    const spec = this.spec(`chaos-${this.nextJob++}`);
    this.remember(spec);
    await enqueueJobs({ pool: this.p.pool }, { specs: [spec] });
    this.count("enqueue");
  }

  /** 2-10 jobs in one enqueue, some depending on earlier ones of the batch or on existing jobs. */
  private async enqueueBatch(): Promise<void> {
    const existing = this.chance(0.5) ? await this.jobsIn(["pending", "processing", "failed", "completed"], 3) : [];
    const specs: JobSpec[] = [];
    const n = 2 + Math.floor(this.random() * 9);
    for (let i = 0; i < n; i++) {
      const candidates = [...specs.map((s) => s.id!), ...existing];
      const deps = candidates.length > 0 && this.chance(0.5) ? [...new Set([this.pick(candidates), ...(this.chance(0.3) ? [this.pick(candidates)] : [])])] : [];
      specs.push(this.spec(`chaos-${this.nextJob++}`, deps));
    }
    for (const s of specs) this.remember(s);
    await enqueueJobs({ pool: this.p.pool }, { specs });
    this.count("enqueue batch");
  }

  private async cancelOne(): Promise<void> {
    const [id] = await this.jobsIn(["pending", "failed", "processing"], 1);
    if (!id) return;
    await cancel(this.p.pool, { id, waitMs: this.pick([0, 0, 3000]) });
    this.count("cancel");
  }

  private async killOne(): Promise<void> {
    const [id] = await this.jobsIn(["processing"], 1);
    if (!id) return;
    await kill(this.p.pool, { id, signal: this.pick(SIGNALS), waitMs: 500 });
    this.count("kill");
  }

  private async requeueSome(): Promise<void> {
    const ids = await this.jobsIn(["completed", "cancelled"], this.pick([1, 1, 2, 3]));
    if (ids.length === 0) return;
    this.noteRequeue(ids);
    await requeue(this.p.pool, { ids });
    this.count("requeue");
  }

  private async retrySomeDead(): Promise<void> {
    if (this.chance(0.1)) {
      this.noteRequeue(await this.jobsIn(["dead"], 100_000));
      await retryDead({ pool: this.p.pool }, { all: true });
      this.count("dlq retry --all");
      return;
    }
    const ids = await this.jobsIn(["dead"], 1);
    if (ids.length === 0) return;
    const edit = this.chance(0.4) ? { command: this.recorder("plain", this.pick([0, 100, 500]), 0), maxRetries: this.pick([0, 2]) } : undefined;
    this.noteRequeue(ids);
    await retryDead({ pool: this.p.pool }, { ids, edit });
    this.count(edit ? "dlq retry --edit" : "dlq retry");
  }

  private async purgeSome(): Promise<void> {
    await purge(this.p.pool, { state: this.pick(["completed", "completed", "cancelled", "dead"] as const), olderThanS: 0 });
    this.count("purge");
  }

  private async changeConfig(): Promise<void> {
    const key = this.pick(["lease_ms", "backoff_base", "backoff_max_s", "retention_completed", "poll_interval_ms"] as const);
    const value = {
      lease_ms: () => this.pick(["1500", "2000", "3000"]),
      backoff_base: () => this.pick(["1", "2", "100"]),
      backoff_max_s: () => this.pick(["0", "1", "2"]),
      retention_completed: () => this.pick(["0", "0", "2"]),
      poll_interval_ms: () => this.pick(["100", "200", "500"]),
    }[key]();
    if (key === "lease_ms") this.maxLeaseMs = Math.max(this.maxLeaseMs, Number(value));
    await setConfigValue(this.p.pool, key, value);
    this.count(`config ${key}`);
  }

  private async changeQueue(): Promise<void> {
    const queue = this.pick(QUEUES);
    const what = this.pick(["pause", "resume", "resume", "limit", "unlimit"]);
    // A pause or a limit holds from its commit (noted after it); a resume or a lifted limit may be
    // used by a claim from its commit on (noted before it), so neither is charged to the wrong side.
    if (what === "pause" || what === "resume") {
      const before = Date.now();
      await setQueuePaused(this.p.pool, { name: queue, paused: what === "pause" });
      this.queueEvents.push({ queue, at: what === "pause" ? Date.now() : before, paused: what === "pause" });
    } else {
      const limit = what === "limit" ? this.pick([1, 2]) : null;
      const before = Date.now();
      await setQueueConcurrency(this.p.pool, { name: queue, limit });
      this.queueEvents.push({ queue, at: limit === null ? before : Date.now(), limit });
    }
    this.count(`queue ${what}`);
  }

  private async changeSchedules(): Promise<void> {
    if (this.schedules.size > 0 && this.chance(0.5)) {
      const name = this.pick([...this.schedules]);
      this.schedules.delete(name);
      await removeSchedule({ pool: this.p.pool }, { name });
      this.count("schedule remove");
      return;
    }
    const name = `chaos-s${this.nextSchedule++}`;
    const { id: _id, ...job } = this.spec("unused");
    this.scheduleQueues.set(name, job.queue ?? "default");
    await addSchedule({ pool: this.p.pool }, { name, cron: "*/3 * * * * *", timezone: "UTC", job, missed: "skip", catchUpLimit: 10 });
    this.schedules.add(name);
    this.count("schedule add");
  }

  private async hitWorker(): Promise<void> {
    const live = this.liveWorkers();
    const what = this.pick(["SIGKILL", "SIGSTOP", "worker stop", "SIGTERM", "start"]);
    if (what === "start" || live.length <= 1) {
      if (this.workers.filter((w) => w.proc.child.exitCode === null && w.proc.child.signalCode === null).length < 5) this.startWorker();
      return;
    }
    const w = this.pick(live);
    if (what === "SIGSTOP") {
      w.proc.child.kill("SIGSTOP");
      w.frozenUntil = Date.now() + this.pick([300, 1500, 5000]);
    } else if (what === "worker stop") {
      w.stopping = true;
      const row = await this.p.pool.query<{ id: string }>("SELECT id FROM workers WHERE pid = $1 AND state <> 'stopped'", [w.proc.child.pid]);
      await requestWorkerStop(this.p.pool, { ids: row.rows.map((r) => r.id), timeoutMs: this.pick([null, 1000]), staleAfterMs: 60_000 });
      this.startWorker();
    } else {
      if (what === "SIGTERM") w.stopping = true;
      w.proc.child.kill(what as NodeJS.Signals);
      this.startWorker();
    }
    this.count(`worker ${what}`);
  }

  /** Thaws workers whose freeze is over. */
  tick(): void {
    const now = Date.now();
    for (const w of this.workers) {
      if (w.frozenUntil !== undefined && now >= w.frozenUntil) {
        w.proc.child.kill("SIGCONT");
        w.frozenUntil = undefined;
      }
    }
  }

  /**
   * The end of the run: every worker thawed, queues resumed and unlimited, schedules removed, short
   * retry delays, two workers at least; so every job can reach a final state.
   */
  async windDown(): Promise<void> {
    for (const w of this.workers) {
      if (w.frozenUntil !== undefined) w.proc.child.kill("SIGCONT");
      w.frozenUntil = undefined;
    }
    for (const queue of QUEUES) {
      this.queueEvents.push({ queue, at: Date.now(), paused: false, limit: null });
      await setQueuePaused(this.p.pool, { name: queue, paused: false });
      await setQueueConcurrency(this.p.pool, { name: queue, limit: null });
    }
    for (const name of this.schedules) await removeSchedule({ pool: this.p.pool }, { name }).catch(() => {});
    this.schedules.clear();
    await setConfigValue(this.p.pool, "backoff_base", "1");
    await setConfigValue(this.p.pool, "backoff_max_s", "1");
    await setConfigValue(this.p.pool, "retention_completed", "0");
    while (this.liveWorkers().length < 2) this.startWorker();
  }

  /** Stops every worker (SIGTERM, then SIGKILL for one that does not exit within `ms`). */
  async stopAll(ms = 30_000): Promise<void> {
    for (const w of this.workers) {
      w.proc.child.kill("SIGCONT");
      w.proc.child.kill("SIGTERM");
    }
    const timer = setTimeout(() => {
      for (const w of this.workers) w.proc.child.kill("SIGKILL");
    }, ms);
    await Promise.all(this.workers.map((w) => w.proc.exited));
    clearTimeout(timer);
  }
}
