import type { Command } from "commander";

// Placeholder until the command lands.
export function registerShowCommand(_program: Command): void {}
