/**
 * Text from jobs (commands, env values, errors, output) shown on a terminal. A command's output can
 * hold escape sequences: `\e[2K\r` erases what came before on the line, OSC 52 writes the clipboard,
 * others retitle the window or hide text. On a terminal, control characters are shown as visible
 * escapes (`\e`, `\r`, `\x07`); newlines and tabs stay. Piped or redirected output, `--json` and
 * `logs --raw` keep the bytes as they are.
 */

/** C0 controls but newline and tab, DEL, and the C1 controls (a terminal reads U+009B as CSI). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
/** The same, newline and tab included: for one-line places (table cells). */
const CONTROL_ONE_LINE = /[\u0000-\u001f\u007f-\u009f]/g;

const NAMED: Record<string, string> = { "\u001b": "\\e", "\r": "\\r", "\n": "\\n", "\t": "\\t", "\u0008": "\\b" };

function visible(c: string): string {
  return NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/** `text` with its control characters shown as escapes (newlines and tabs kept unless `oneLine`). */
export function escapeControl(text: string, oneLine = false): string {
  return text.replace(oneLine ? CONTROL_ONE_LINE : CONTROL, visible);
}

/** Whether what this process prints goes to a terminal (then job text is escaped). */
export function stdoutIsTerminal(): boolean {
  return process.stdout.isTTY === true;
}

/** `text` as it may be written to stdout now: escaped on a terminal, as it is otherwise. */
export function forStdout(text: string, oneLine = false): string {
  return stdoutIsTerminal() ? escapeControl(text, oneLine) : text;
}
