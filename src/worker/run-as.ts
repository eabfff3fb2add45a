/**
 * `worker start --run-as USER`: a worker running as root starts job commands as USER, so a job cannot
 * signal its worker or command host, nor read their memory or environment (/proc/<pid>/environ of a
 * root process is root's alone). The worker and its command hosts stay root: they must signal the
 * command's group whatever it does. The user is looked up once, at start (getent: the system's NSS,
 * so LDAP users work too).
 */
import { execFileSync } from "node:child_process";
import { InvalidInputError } from "../errors.js";

export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Looks `user` (a name or a uid) up; refuses unless this process is root and the user is not. */
export function resolveRunAs(user: string): RunAsUser {
  const uid = process.getuid?.();
  if (uid !== 0) throw new InvalidInputError(`--run-as needs the worker to run as root (it runs as uid ${uid ?? "?"}); without it, commands run as the worker's own user`);
  let entry: string;
  try {
    entry = execFileSync("getent", ["passwd", user], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0] ?? "";
  } catch {
    throw new InvalidInputError(`--run-as: no user '${user}' on this host`);
  }
  const [name, , uidText, gidText, , home, shell] = entry.split(":");
  const found = { name: name ?? user, uid: Number(uidText), gid: Number(gidText), home: home || "/", shell: shell || "/bin/sh" };
  if (!Number.isInteger(found.uid) || !Number.isInteger(found.gid)) throw new InvalidInputError(`--run-as: no user '${user}' on this host`);
  if (found.uid === 0) throw new InvalidInputError(`--run-as ${user}: that is root, which the worker already is`);
  return found;
}
