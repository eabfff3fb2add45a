import type { Command } from "commander";

// Placeholder until the command lands.
export function registerDbCommands(_program: Command): void {}
