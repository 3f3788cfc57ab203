// uvu as the test files see it, with every test counted as it registers, passes, fails or is skipped, so the
// runner can tell how many tests of a file did not run when the file aborts (scripts/test-runner/run-file.mjs).
import * as uvu from '../../node_modules/uvu/dist/index.mjs';

/** One file's counts; the runner reads them from the result file its child writes. */
export const tally = (globalThis.NOTRACK_TEST_TALLY ??= { registered: 0, passed: 0, failed: 0, skipped: 0 });

function counted(real) {
  const wrap =
    (handler) =>
    async (...args) => {
      try {
        await handler(...args);
        tally.passed += 1;
      } catch (e) {
        tally.failed += 1;
        throw e;
      }
    };
  const t = (name, handler) => {
    tally.registered += 1;
    return real(name, wrap(handler));
  };
  Object.assign(t, real);
  t.only = (name, handler) => {
    tally.registered += 1;
    return real.only(name, wrap(handler));
  };
  t.skip = (...args) => {
    tally.registered += 1;
    tally.skipped += 1;
    return real.skip(...args);
  };
  return t;
}

export const suite = (name, state) => counted(uvu.suite(name, state));
export const test = counted(uvu.test);
export const exec = uvu.exec;
