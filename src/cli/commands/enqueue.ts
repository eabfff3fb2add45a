import type { Command } from "commander";

// Placeholder until the command lands.
export function registerEnqueueCommand(_program: Command): void {}
