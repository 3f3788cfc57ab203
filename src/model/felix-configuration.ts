// Calico's FelixConfiguration as a source of failsafe ports: its failsafeInboundHostPorts and
// failsafeOutboundHostPorts apply where no NotrackConfiguration sets them, so Calico users keep one copy, and
// validate says for each which one won.
import { formatCidr, parseCidr } from '../net/cidr.js';
import { diagnosticAt, type SourceDocument } from './documents.js';
import type { Diagnostic } from './diagnostics.js';
import type { ConfigurationOverride, FailsafePort } from './resources.js';
import type { FelixConfiguration, FelixProtoPort } from './schema-types.gen.js';

const FIELDS = [
  { yaml: 'failsafeInboundHostPorts', setting: 'failsafeInbound' },
  { yaml: 'failsafeOutboundHostPorts', setting: 'failsafeOutbound' },
] as const;

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17 };

/** The failsafe settings of one FelixConfiguration (schema-valid), with notes on what was not imported. */
export function checkFelixConfiguration(
  doc: SourceDocument,
  res: FelixConfiguration,
): { config: ConfigurationOverride | null; diagnostics: Diagnostic[] } {
  const name = res.metadata.name;
  const diagnostics: Diagnostic[] = [];
  if (name !== 'default' && !name.startsWith('node.')) {
    diagnostics.push(
      diagnosticAt(
        doc,
        ['metadata', 'name'],
        'notice',
        'felix-config-name',
        `FelixConfiguration "${name}" is not read: Felix (and notrack) read only "default" and "node.<host name>"`,
      ),
    );
    return { config: null, diagnostics };
  }
  const settings: ConfigurationOverride['settings'] = {};
  for (const field of FIELDS) {
    const list: FelixProtoPort[] | undefined = res.spec?.[field.yaml];
    if (list === undefined) continue;
    const ports: FailsafePort[] = [];
    list.forEach((p, i) => {
      const protocol = PROTOCOLS[p.protocol.toLowerCase()];
      if (protocol === undefined) {
        diagnostics.push(
          diagnosticAt(
            doc,
            ['spec', field.yaml, i, 'protocol'],
            'warning',
            'failsafe-protocol',
            `${p.protocol} ${p.port} is not imported: notrack's failsafes match TCP and UDP (as Calico's BPF dataplane)`,
          ),
        );
        return;
      }
      const net = p.net ? parseCidr(p.net) : null;
      if (net?.hostBitsSet)
        diagnostics.push(
          diagnosticAt(
            doc,
            ['spec', field.yaml, i, 'net'],
            'warning',
            'cidr-host-bits',
            `${p.net} has host bits set; it means ${formatCidr(net)}`,
          ),
        );
      ports.push({ protocol, port: p.port, net });
    });
    settings[field.setting] = ports;
  }
  return {
    config: { name, settings, source: { file: doc.file, document: doc.index }, kind: 'FelixConfiguration' },
    diagnostics,
  };
}

/**
 * For each failsafe field a FelixConfiguration sets, a notice saying whether notrack uses it: NotrackConfiguration
 * wins wherever it sets the same field (its `default` for every host, its `node.<host>` for that host).
 */
export function failsafeSourceNotices(
  configurations: readonly ConfigurationOverride[],
  docs: ReadonlyMap<ConfigurationOverride, SourceDocument>,
): Diagnostic[] {
  const notrack = configurations.filter((c) => c.kind !== 'FelixConfiguration');
  const out: Diagnostic[] = [];
  for (const felix of configurations.filter((c) => c.kind === 'FelixConfiguration')) {
    const doc = docs.get(felix);
    if (!doc) continue;
    for (const field of FIELDS) {
      if (felix.settings[field.setting] === undefined) continue;
      const setters = notrack.filter((c) => c.settings[field.setting] !== undefined).map((c) => c.name);
      const overriding =
        felix.name === 'default' ? setters : setters.filter((n) => n === 'default' || n === felix.name);
      const scope = felix.name === 'default' ? 'every host' : `host ${felix.name.slice('node.'.length)}`;
      let message: string;
      if (overriding.includes('default') || (felix.name !== 'default' && overriding.includes(felix.name)))
        message = `not used: NotrackConfiguration ${overriding.includes(felix.name) ? felix.name : 'default'} sets ${field.yaml} for ${scope}, and NotrackConfiguration wins`;
      else if (overriding.length)
        message = `used for ${scope} except where NotrackConfiguration sets ${field.yaml} (${overriding.join(', ')}), which wins there`;
      else message = `used for ${scope}: no NotrackConfiguration sets ${field.yaml}`;
      out.push(
        diagnosticAt(
          doc,
          ['spec', field.yaml],
          'notice',
          'failsafe-source',
          `FelixConfiguration ${felix.name} ${field.yaml}: ${message}`,
        ),
      );
    }
  }
  return out;
}
