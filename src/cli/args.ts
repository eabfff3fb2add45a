/** Parsing of command-line values shared by several commands; each throws InvalidInputError (exit 2). */
import { InvalidInputError } from "../errors.js";

/** A whole number given on the command line, within [min, max]. `flag` names it in the error. */
export function parseCount(flag: string, raw: string, min: number, max: number): number {
  if (!/^\s*\d+\s*$/.test(raw)) throw new InvalidInputError(`${flag} must be a whole number (got '${raw}')`);
  const n = Number(raw);
  if (n < min || n > max) throw new InvalidInputError(`${flag} must be between ${min} and ${max} (got ${n})`);
  return n;
}
