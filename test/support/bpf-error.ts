// Catching the BpfError a libbpf call is expected to raise, so a test can assert on its code, errno and message.
import { BpfError } from '../../src/libbpf/index.js';

/** Runs `fn` and returns the BpfError it throws; anything else it throws passes through, and no throw fails. */
export function catchBpf(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
  throw new Error('expected a BpfError');
}
