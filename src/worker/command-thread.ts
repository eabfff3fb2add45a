/**
 * Inside a command thread (see command-runner.ts): runs the commands the worker's main thread sends,
 * with runCommand, and sends back their live output and their results. Starting a process blocks the
 * thread that starts it until the child has exec'd (about a millisecond, more on a busy host); here
 * that blocks this thread, not the main thread that talks to the database.
 */
import { parentPort } from "node:worker_threads";
import { OutputTail } from "./output-tail.js";
import { runCommand, type RunningCommand } from "./run-command.js";
import type { FromCommandThread, ToCommandThread } from "./command-runner.js";

/** Live output is forwarded at most this often, at most output_limit_bytes at a time (memory stays bounded). */
const FORWARD_INTERVAL_MS = 100;

const port = parentPort;
if (!port) throw new Error("command-thread.js runs inside a worker thread");
const send = (msg: FromCommandThread) => port.postMessage(msg);
const running = new Map<number, RunningCommand>();

port.on("message", (msg: ToCommandThread) => {
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
      send({ type: "result", key, result });
    });
  } else if (msg.type === "terminate") running.get(msg.key)?.terminate(msg.reason);
  else if (msg.type === "signal") running.get(msg.key)?.signal(msg.signal);
});
