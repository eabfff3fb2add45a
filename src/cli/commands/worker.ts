import type { Command } from "commander";

// Placeholder until the command lands.
export function registerWorkerCommands(_program: Command): void {}
