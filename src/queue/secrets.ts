/**
 * Secrets in what queuectl shows of a job: its command, its env, its errors. They are stored as given
 * (the job runs with them); everything that prints a job — `show`, `list`, `--json`, `schedule list`,
 * `dlq list`, the dashboard and its API — shows them masked:
 * - the value of an env variable whose name looks secret (SECRET, TOKEN, PASSWORD, PASS, KEY,
 *   CREDENTIAL, any case) is `***`;
 * - in any other text (other env values, the command, errors): the password of a URL's user-info
 *   (`postgres://bob:***@db`), the credential of an Authorization-style value (`Basic ***`,
 *   `Bearer ***`), and the value of a secret-looking `NAME=value` or `--password value` option.
 */

/** Environment variable names whose values are secrets. */
export const SECRET_ENV_NAME = /SECRET|TOKEN|PASSWORD|PASS|KEY|CREDENTIAL/i;
export const MASKED_VALUE = "***";

/** scheme://user:password@ — the password, up to the @ (no whitespace, slash or @ inside). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]+:)[^\s@/'"]+@/gi;
/** An Authorization-style credential: "Basic <...>", "Bearer <...>", "Token <...>", "Digest <...>". */
const AUTH_SCHEME = /\b(Basic|Bearer|Token|Digest)(\s+)[A-Za-z0-9._~+/=:-]{6,}/g;
/** NAME=value where NAME looks secret (an assignment in a command, an option like --api-key=...). */
const SECRET_ASSIGNMENT = /((?:^|[\s;&|('"])-{0,2}[A-Za-z_][A-Za-z0-9_-]*(?:secret|token|password|passwd|pass|key|credential)[A-Za-z0-9_-]*=)("[^"]*"|'[^']*'|[^\s;&|)'"]+)/gi;
/** --password value, --token value, ... (an option whose value is the next word). */
const SECRET_OPTION = /((?:^|\s)--?(?:[a-z-]*-)?(?:password|passwd|token|secret|api-key|apikey)\s+)("[^"]*"|'[^']*'|[^\s;&|)'"]+)/gi;

/** `text` with the secrets it holds masked (see the top of this file). */
export function maskSecrets(text: string): string;
export function maskSecrets(text: string | null): string | null;
export function maskSecrets(text: string | null): string | null {
  if (text === null) return null;
  return text
    .replace(URL_PASSWORD, `$1${MASKED_VALUE}@`)
    .replace(AUTH_SCHEME, `$1$2${MASKED_VALUE}`)
    .replace(SECRET_ASSIGNMENT, `$1${MASKED_VALUE}`)
    .replace(SECRET_OPTION, `$1${MASKED_VALUE}`);
}

/** A job's env for display: sorted by name, secret-looking names' values `***`, the others through maskSecrets. */
export function maskEnv(env: Readonly<Record<string, string>> | null): Record<string, string> | null {
  if (!env) return null;
  const names = Object.keys(env).sort();
  return Object.fromEntries(names.map((k) => [k, SECRET_ENV_NAME.test(k) ? MASKED_VALUE : maskSecrets(env[k]!)]));
}
