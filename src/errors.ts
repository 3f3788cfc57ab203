// The base of every error notrack raises on purpose: a stable `code` that the CLI maps to exit codes and messages.

/** An error with a stable machine-readable code. Subclasses live beside the stage that raises them. */
export class NotrackError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
