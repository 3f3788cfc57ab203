// Process signals to agent actions: SIGHUP reconciles now; SIGTERM and SIGINT stop the agent, and a second one
// stops waiting for the running reconcile.

interface SignalActions {
  reconcileNow(): void;
  stop(signal: NodeJS.Signals): void;
  /** A second SIGTERM/SIGINT while stopping. */
  hurry(signal: NodeJS.Signals): void;
}

/** Installs the handlers; returns a function that removes them. */
export function handleSignals(actions: SignalActions): () => void {
  let stopping = false;
  const onHup = (): void => actions.reconcileNow();
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      actions.hurry(signal);
      return;
    }
    stopping = true;
    actions.stop(signal);
  };
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  return () => {
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
  };
}
