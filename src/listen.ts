/**
 * Starting an HTTP server on a port (the dashboard's, a worker's health port): the reasons it cannot
 * listen, each as one OperationalError line naming the port and the option that chooses another.
 */
import type { Server } from "node:http";
import { OperationalError } from "./errors.js";

export async function listenOn(server: Server, p: { port: number; host?: string; option: string }): Promise<void> {
  const where = p.host ?? "every interface";
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (err.code === "EADDRINUSE") reject(new OperationalError(`port ${p.port} on ${where} is already in use (choose another with ${p.option})`));
      else if (err.code === "EACCES") reject(new OperationalError(`not allowed to listen on port ${p.port} (ports below 1024 need privileges)`));
      else if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") reject(new OperationalError(`cannot listen on ${where}: no such local address`));
      else reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    if (p.host === undefined) server.listen(p.port);
    else server.listen(p.port, p.host);
  });
}
