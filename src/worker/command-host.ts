/**
 * A command host: a small process the worker forks (see command-runner.ts) that runs the commands the
 * worker sends, with runCommand, and sends back their live output and results over the IPC channel.
 * Starting a process blocks the caller until the child has exec'd; here that blocks this process, a
 * small one that forks cheaply, not the worker's main thread that talks to the database.
 *
 * If the worker goes away (the channel closes: the worker crashed or was killed with SIGKILL), the
 * host ends its running commands' process groups and exits: their jobs will be rescued and retried
 * elsewhere, and the old run must not go on beside the new one.
 */
import { OutputTail } from "./output-tail.js";
import { runCommand, type RunningCommand } from "./run-command.js";
import type { FromCommandHost, ToCommandHost } from "./command-runner.js";

/** Live output is forwarded at most this often, at most output_limit_bytes at a time (memory stays bounded). */
const FORWARD_INTERVAL_MS = 100;

if (!process.send) throw new Error("command-host.js is started by the worker (child_process.fork)");
const send = (msg: FromCommandHost) => process.send!(msg);
const running = new Map<number, RunningCommand>();

process.on("message", (msg: ToCommandHost) => {
  if (msg.type === "run") {
    const { key, params, liveOutput } = msg;
    const live = liveOutput ? new OutputTail(params.outputLimitBytes) : null;
    let timer: NodeJS.Timeout | undefined;
    const forward = () => {
      timer = undefined;
      const chunk = live!.take();
      if (chunk.length > 0) send({ type: "output", key, chunk });
    };
    const run = runCommand({
      ...params,
      onOutput: live
        ? (chunk) => {
            live.push(chunk);
            timer ??= setTimeout(forward, FORWARD_INTERVAL_MS);
          }
        : undefined,
    });
    running.set(key, run);
    send({ type: "started", key, pid: run.pid });
    void run.result.then((result) => {
      clearTimeout(timer);
      running.delete(key);
      if (process.connected) send({ type: "result", key, result });
    });
  } else if (msg.type === "terminate") running.get(msg.key)?.terminate(msg.reason);
  else if (msg.type === "signal") running.get(msg.key)?.signal(msg.signal);
});

process.on("disconnect", () => {
  for (const run of running.values()) run.terminate("the worker went away");
  // runCommand's results resolve once each group is gone (SIGKILL after the grace period).
  void Promise.all([...running.values()].map((r) => r.result)).then(() => process.exit(0));
});
// The worker's signals are for the worker: a SIGTERM/SIGINT sent to the whole process group (a
// terminal's Ctrl-C) must not kill the host under the commands the worker is finishing.
process.on("SIGTERM", () => {});
process.on("SIGINT", () => {});
