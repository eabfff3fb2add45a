/**
 * Expected failures, each carrying its exit code (the exit codes documented in docs/cli-contract.md
 * and the README). Code below the CLI throws these; only src/cli/cli.ts turns them into a message
 * and an exit code, so no helper ever exits the process.
 */
export class QueuectlError extends Error {
  /** Process exit code: 1 operational failure, 2 invalid input, 3 not found, 4 not permitted for the role. */
  readonly exitCode: number = 1;
}

/** The database or another dependency failed; retrying later may help. Exit code 1. */
export class OperationalError extends QueuectlError {
  override readonly exitCode = 1;
}

/** The schema is older (or newer) than this build expects. Exit code 1. */
export class SchemaMismatchError extends OperationalError {}

/** `doctor` found problems (it printed them); the message counts them. Exit code 1. */
export class UnhealthyError extends OperationalError {}

/** Invalid input or usage; nothing was changed. Exit code 2. */
export class InvalidInputError extends QueuectlError {
  override readonly exitCode = 2;
}

/** The named job, worker or config key does not exist. Exit code 3. */
export class NotFoundError extends QueuectlError {
  override readonly exitCode = 3;
}

/**
 * The database refused the statement for the connection's role (SQLSTATE 42501): a role made a kind
 * by `queuectl db grant` tried something its kind may not do. Nothing was changed. Exit code 4.
 */
export class PermissionDeniedError extends QueuectlError {
  override readonly exitCode = 4;
}

/** A state change that is not allowed from the current state (e.g. retrying a job not in the DLQ). Exit code 2. */
export class InvalidStateError extends InvalidInputError {}

/**
 * `wait` ended without every job succeeding: the process exits with the job's own exit code, 1 for a
 * job that died without one or was cancelled, 124 on timeout (like timeout(1)).
 */
export class JobOutcomeError extends QueuectlError {
  override readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}
