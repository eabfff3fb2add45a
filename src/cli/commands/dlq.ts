import type { Command } from "commander";

// Placeholder until the command lands.
export function registerDlqCommands(_program: Command): void {}
