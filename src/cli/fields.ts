import { forStdout } from "./terminal-text.js";

/**
 * "name   value" lines for one record (`show`, `status`): a label column padded to the longest label.
 * Kept beside output.ts; multi-line values are indented under their label, control characters shown
 * as escapes on a terminal (terminal-text.ts).
 */
export function printFields(fields: ReadonlyArray<readonly [string, string | number]>): void {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  const pad = " ".repeat(width + 2);
  const lines = fields.map(([k, v]) => `${k.padEnd(width)}  ${forStdout(String(v)).replace(/\n/g, `\n${pad}`)}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
