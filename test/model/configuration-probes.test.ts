// NotrackConfiguration `probes`: TCP targets (IPv4, IPv6 in brackets, names) and local ports, per host over the
// default, and the schema's refusal of a target without a port or with one out of range.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { resolveConfiguration } from '../../src/model/configuration.js';
import { policyFile } from '../support/policy-files.js';

const config = (name: string, probes: string): string => `apiVersion: notrack.dev/v1alpha1
kind: NotrackConfiguration
metadata:
  name: ${name}
spec:
  probes:
${probes}
`;

test('probes come from the default and are replaced whole by node.<host>', () => {
  const r = loadResources([
    policyFile(
      'config.yaml',
      config('default', `    tcp: ['10.0.0.1:443', '[2001:db8::1]:443', 'git.example.com:22']\n    localPorts: [22]`) +
        '---\n' +
        config('node.edge-2', `    localPorts: [8080]`),
    ),
  ]);
  assert.ok(r.valid, r.diagnostics.map(formatDiagnostic).join('\n'));
  assert.equal(resolveConfiguration(r.resources, 'edge-1').probes, {
    tcp: ['10.0.0.1:443', '[2001:db8::1]:443', 'git.example.com:22'],
    localPorts: [22],
  });
  assert.equal(resolveConfiguration(r.resources, 'edge-2').probes, { tcp: [], localPorts: [8080] });
  assert.equal(resolveConfiguration({ configurations: [] }, 'edge-1').probes, { tcp: [], localPorts: [] });
});

test('a target without a port, with port 0 or 65536, or an unknown probe kind is refused', () => {
  for (const probes of [
    `    tcp: ['10.0.0.1']`,
    `    tcp: ['10.0.0.1:0']`,
    `    tcp: ['10.0.0.1:65536']`,
    `    tcp: ['2001:db8::1:443']`,
    `    localPorts: [70000]`,
    `    http: ['https://example.com']`,
  ]) {
    const r = loadResources([policyFile('config.yaml', config('default', probes))]);
    assert.not.ok(r.valid, probes);
    assert.match(r.diagnostics.map(formatDiagnostic).join('\n'), /probes/, probes);
  }
});

test.run();
