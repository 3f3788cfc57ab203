// Errors of the fleet report: Prometheus cannot be reached or refuses a query.
import { NotrackError } from '../errors.js';

export type FleetErrorCode = 'prometheus-unreachable' | 'prometheus-query-failed' | 'fleet-no-agents';

export class FleetError extends NotrackError {
  constructor(code: FleetErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
