/** Parsing of command-line values shared by several commands; each throws InvalidInputError (exit 2). */
import { InvalidArgumentError } from "commander";
import { InvalidInputError } from "../errors.js";

/** A whole number given on the command line, within [min, max]. `flag` names it in the error. */
export function parseCount(flag: string, raw: string, min: number, max: number): number {
  if (!/^\s*\d+\s*$/.test(raw)) throw new InvalidInputError(`${flag} must be a whole number (got '${raw}')`);
  const n = Number(raw);
  if (n < min || n > max) throw new InvalidInputError(`${flag} must be between ${min} and ${max} (got ${n})`);
  return n;
}

/** commander's argParser for a number of seconds from 0 to a day (exit 2 through commander otherwise). */
export function nonNegativeSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 86_400) throw new InvalidArgumentError("must be seconds from 0 to 86400");
  return n;
}
