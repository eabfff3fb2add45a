import type { Command } from "commander";
import { NotFoundError } from "../../errors.js";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, isConfigKey, loadConfig, parseConfigValue, setConfigValue, type ConfigKey } from "../../queue/config.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable } from "../output.js";

function assertKey(key: string): ConfigKey {
  if (!isConfigKey(key)) throw new NotFoundError(`unknown config key '${key}' (known: ${CONFIG_KEY_NAMES.join(", ")})`);
  return key;
}

async function listConfig(json: boolean | undefined): Promise<void> {
  const config = await withContext((ctx) => loadConfig(ctx.pool));
  if (json) {
    printJson(config);
    return;
  }
  await printTable(
    ["key", "value", "default", "meaning"],
    CONFIG_KEY_NAMES.map((k) => [k, config[k], CONFIG_KEYS[k].default, CONFIG_KEYS[k].help]),
  );
}

const KEYS_HELP = `
Keys:
${CONFIG_KEY_NAMES.map((k) => `  ${k.padEnd(20)}${CONFIG_KEYS[k].help} (default ${CONFIG_KEYS[k].default})`).join("\n")}`;

export function registerConfigCommands(program: Command): void {
  const config = program
    .command("config")
    .summary("read and change settings shared by all workers")
    .description("Settings stored in the database, read by every worker and CLI. Values are validated when set.")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl config list
  $ queuectl config get max_retries
  $ queuectl config set backoff_base 3
${KEYS_HELP}`,
    );

  config
    .command("list")
    .summary("show every setting")
    .description("Shows every setting with its value, default and meaning.")
    .option("--json", "print {key: value, ...} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl config list
  $ queuectl config list --json | jq .lease_ms`,
    )
    .action(async (opts: { json?: boolean }) => listConfig(opts.json));

  config
    .command("get")
    .summary("show one setting (or all)")
    .description("Prints the value of one setting; without a key, every setting (like config list).")
    .argument("[key]", "the setting")
    .option("--json", 'print {"key": K, "value": V} only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl config get lease_ms
  $ queuectl config get max_retries --json
${KEYS_HELP}`,
    )
    .action(async (key: string | undefined, opts: { json?: boolean }) => {
      if (key === undefined) return listConfig(opts.json);
      const k = assertKey(key);
      const value = (await withContext((ctx) => loadConfig(ctx.pool)))[k];
      if (opts.json) printJson({ key: k, value });
      else printLine(String(value));
    });

  config
    .command("set")
    .summary("change one setting")
    .description("Changes one setting for every worker and CLI; workers pick it up on their next read.")
    .argument("<key>", "the setting")
    .argument("<value>", "its new value")
    .option("--json", 'print {"key": K, "value": V, "previous": P} only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl config set max_retries 5
  $ queuectl config set job_timeout_ms 600000
${KEYS_HELP}`,
    )
    .action(async (key: string, raw: string, opts: { json?: boolean }) => {
      // Validated before connecting: an unknown key (exit 3) or a bad value (exit 2) changes nothing.
      const k = assertKey(key);
      parseConfigValue(k, raw);
      const { previous, value } = await withContext(async (ctx) => {
        const before = (await loadConfig(ctx.pool))[k];
        return { previous: before, value: await setConfigValue(ctx.pool, k, raw) };
      });
      if (opts.json) printJson({ key: k, value, previous });
      else printLine(`${k} = ${value}${previous === value ? " (unchanged)" : ` (was ${previous}); running workers apply it from their next claim`}`);
    });
}
