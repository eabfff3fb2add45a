/** The pool every CLI command opens (cli/context.ts), and main.ts opens early with the same options. */
export const CLI_POOL = { applicationName: "queuectl-cli", max: 4 } as const;
