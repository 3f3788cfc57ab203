// The lint reads selector sets from the hosts' compiled states instead of resolving them again, and finds exactly what
// it finds without them: empty, shadowed and return-path findings alike, with selectors over both families, a
// notSelector, a selector with no IPv6 member and one that matches nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileAll } from '../../src/compile/compile-host.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { loadResources } from '../../src/model/load-resources.js';
import { parseSelector } from '../../src/model/selector/index.js';
import { CompiledSelectorAddresses } from '../../src/traffic/compiled-selectors.js';
import { lintLoaded } from '../../src/traffic/validate-policy.js';
import { SelectorAddresses } from '../../src/compile/sets.js';
import { packedTexts, type PackedPrefixes } from '../../src/compile/packed-prefixes.js';
import { packedMembers } from '../../src/compile/prefix-set.js';
import { documentsFile } from '../support/policy-files.js';
import { hostEndpoint, networkSet, untrackedPolicy } from '../support/resource-documents.js';

const FILES = [
  documentsFile('hosts.yaml', [
    hostEndpoint('edge-1-eth0', 'edge-1', { interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] }, { role: 'edge' }),
    hostEndpoint('edge-2-eth0', 'edge-2', { interfaceName: 'eth0', expectedIPs: ['2001:db8::10'] }, { role: 'edge' }),
  ]),
  documentsFile('sets.yaml', [
    networkSet('dual', { list: 'deny' }, ['198.51.100.0/24', '2001:db8:1::/48']),
    networkSet('v4-only', { list: 'scan' }, ['203.0.113.0/24', '203.0.113.128/25']),
  ]),
  documentsFile('policy.yaml', [
    untrackedPolicy('edge', {
      selector: "role == 'edge'",
      types: ['Ingress', 'Egress'],
      ingress: [
        { action: 'Deny', source: { selector: "list == 'deny'" } },
        // Shadowed: every source it names is in the deny list above.
        { action: 'Deny', source: { nets: ['198.51.100.0/25'] } },
        { action: 'Deny', source: { selector: "list == 'scan'", notSelector: "list == 'deny'" } },
        // Matches nothing: no set has this label.
        { action: 'Deny', source: { selector: "list == 'none'" } },
        // An untracked Allow with no return rule the other way.
        { action: 'Allow', protocol: 'TCP', destination: { ports: [443] } },
      ],
      egress: [{ action: 'Deny', destination: { selector: "list == 'scan'" } }],
    }),
  ]),
];

test('the lint with the compiled states finds exactly what it finds without them', () => {
  const loaded = loadResources(FILES);
  assert.ok(loaded.valid, loaded.diagnostics.map(formatDiagnostic).join('\n'));
  const warnings = (r: typeof loaded) => r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
  const seeded = warnings(lintLoaded(loaded, compileAll(loaded.resources)));
  const fresh = warnings(lintLoaded(loaded));
  assert.equal(seeded, fresh);
  const codes = seeded.map((w) => /warning\[([a-z-]+)\]/.exec(w)![1]);
  for (const code of ['shadowed-rule', 'no-return-rule'])
    assert.ok(codes.includes(code), `${code}: ${seeded.join('\n')}`);
});

test('selectors compiled in both families are answered from the states, the same content as resolving them', () => {
  const { resources } = loadResources(FILES);
  const states = compileAll(resources);
  const compiled = new CompiledSelectorAddresses(resources, states.values());
  const plain = new SelectorAddresses(resources);
  for (const text of ["list == 'deny'", "list == 'scan'", "list == 'none'"]) {
    const selector = parseSelector(text);
    const [a, b] = [compiled.of(selector), plain.of(selector)];
    const texts = (p: PackedPrefixes) => packedTexts(p);
    assert.equal([texts(a[4]), texts(a[6])], [texts(b[4]), texts(b[6])], text);
  }
  const inState = Object.values(states.get('edge-1')!.sets).find(
    (s) => s.origin === 'selector list == "deny"' && s.family === 4,
  )!;
  assert.ok(
    compiled.of(parseSelector("list == 'deny'"))[inState.family] === packedMembers(inState),
    "the state's own packed list",
  );
});

test.run();
