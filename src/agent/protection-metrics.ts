// Metrics of protection as observed in the kernel, beside the agent's own registry: which expected interfaces run
// notrack's program, and what the link watch attached.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostProtection, ProtectOutcome } from './reconciler.js';

export class ProtectionMetrics {
  private readonly perInterface;
  private readonly unprotected;
  private readonly attaches;

  constructor(registry: Registry) {
    const registers = [registry];
    this.perInterface = new Gauge({
      name: 'notrack_interface_protected',
      help: "1 when an interface the applied policy names runs notrack's expected program, 0 when it does not (observed in the kernel).",
      labelNames: ['iface'],
      registers,
    });
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
    this.perInterface.reset();
    for (const i of p.interfaces) if (i.present) this.perInterface.set({ iface: i.name }, i.protected ? 1 : 0);
    this.unprotected.set(p.unprotected.length);
  }

  protected(o: ProtectOutcome): void {
    if (o.attached.length) this.attaches.inc({ result: 'attached' }, o.attached.length);
    if (o.failed.length) this.attaches.inc({ result: 'failed' }, o.failed.length);
  }
}
