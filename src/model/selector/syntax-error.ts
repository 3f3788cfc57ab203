// The error a malformed selector raises: what is wrong, in words a policy author can act on, and where.

import { NotrackError } from '../../errors.js';

/** A selector that does not parse. `offset` is the 0-based index into the selector text of the offending token. */
export class SelectorSyntaxError extends NotrackError {
  readonly offset: number;
  /** The whole selector text, so a report can show the line with a caret under `offset`. */
  readonly selector: string;
  constructor(message: string, offset: number, selector: string) {
    super('selector-syntax', message);
    this.offset = offset;
    this.selector = selector;
  }
}
