import type { Command } from "commander";

// Placeholder until the command lands.
export function registerConfigCommands(_program: Command): void {}
