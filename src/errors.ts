// The base of every error notrack raises on purpose (a stable `code` that the CLI maps to exit codes and messages),
// and the usage error that option checks of any folder raise.

/** An error with a stable machine-readable code. Subclasses live beside the stage that raises them. */
export class NotrackError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A command line or option value that cannot work; the CLI prints it with a pointer to --help and exits 64. */
export class UsageError extends NotrackError {
  constructor(message: string) {
    super('usage', message);
  }
}
