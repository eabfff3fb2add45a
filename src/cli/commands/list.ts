import type { Command } from "commander";

// Placeholder until the command lands.
export function registerListCommand(_program: Command): void {}
