// Metrics of protection as observed in the kernel, beside the agent's own registry: how many expected interfaces run
// without notrack's program, and what the link watch attached (notrack_interface_protected is read at scrape).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostProtection, ProtectOutcome } from './reconciler.js';

export class ProtectionMetrics {
  private readonly unprotected;
  private readonly attaches;

  constructor(registry: Registry) {
    const registers = [registry];
    this.unprotected = new Gauge({
      name: 'notrack_unprotected_interfaces',
      help: "Expected interfaces present on the host without notrack's program (observed in the kernel).",
      registers,
    });
    this.attaches = new Counter({
      name: 'notrack_protect_attach_total',
      help: 'Attachments made by the link watch and the start-up restore to interfaces that ran nothing of notrack, by result.',
      labelNames: ['result'],
      registers,
    });
  }

  observed(p: HostProtection): void {
    this.unprotected.set(p.unprotected.length);
  }

  protected(o: ProtectOutcome): void {
    if (o.attached.length) this.attaches.inc({ result: 'attached' }, o.attached.length);
    if (o.failed.length) this.attaches.inc({ result: 'failed' }, o.failed.length);
  }
}
