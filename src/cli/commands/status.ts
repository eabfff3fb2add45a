import type { Command } from "commander";

// Placeholder until the command lands.
export function registerStatusCommand(_program: Command): void {}
