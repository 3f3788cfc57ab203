// The bad-document corpus: every file under test/fixtures/bad gives exactly the error a policy author should see,
// at the exact file:line:col, with its code, message and JSON path.
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadResources } from '../../src/model/load-resources.js';
import { DEFAULT_DOCUMENT_LIMITS, type DocumentLimits } from '../../src/model/documents.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { policyFile } from '../support/policy-files.js';

const DIR = 'test/fixtures/bad';

interface Case {
  /** File name under test/fixtures/bad. */
  file: string;
  /** line:col of the error. */
  at: string;
  code: string;
  message: string;
  /** JSON path of the error inside the document; absent for file- and document-level errors. */
  path?: string;
  /** Limits other than the defaults, to exercise the size guards with small files. */
  limits?: Partial<DocumentLimits>;
}

/** One expected error per file, written out by hand: the validator must say exactly this. */
const CASES: Case[] = [
  {
    file: 'alias-bomb.yaml',
    at: '1:1',
    code: 'yaml-alias-limit',
    message: 'YAML aliases expand to too many nodes (limit 100); this looks like an alias bomb',
  },
  {
    file: 'bad-enum-action.yaml',
    at: '10:15',
    code: 'invalid-value',
    message: 'action is the string "Alow"; expected one of Allow, Deny, Log, Pass; did you mean "Allow"?',
    path: 'spec.ingress[0].action',
  },
  {
    file: 'bad-enum-protocol.yaml',
    at: '11:17',
    code: 'invalid-value',
    message: 'protocol is the string "TPC"; expected an IP protocol by name or number (1-255); did you mean "TCP"?',
    path: 'spec.ingress[0].protocol',
  },
  {
    file: 'bad-enum-types.yaml',
    at: '9:11',
    code: 'invalid-value',
    message: 'types[0] is the string "ingress"; expected one of Ingress, Egress; did you mean "Ingress"?',
    path: 'spec.types[0]',
  },
  {
    file: 'bad-label-key.yaml',
    at: '6:5',
    code: 'invalid-label',
    message:
      'label key "role type" is not valid: a name of at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit, optionally after a DNS prefix and "/" (example.com/role)',
    path: 'metadata.labels["role type"]',
  },
  {
    file: 'bad-label-value.yaml',
    at: '6:11',
    code: 'invalid-label',
    message:
      'label value "edge server" must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
    path: 'metadata.labels.role',
  },
  {
    file: 'bad-metadata-name.yaml',
    at: '4:9',
    code: 'invalid-value',
    message:
      'name "Edge_Web" must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
    path: 'metadata.name',
  },
  {
    file: 'bad-protocol-number.yaml',
    at: '11:17',
    code: 'out-of-range',
    message: 'protocol is 256; it must be <= 255',
    path: 'spec.ingress[0].protocol',
  },
  {
    file: 'bad-tier.yaml',
    at: '9:9',
    code: 'invalid-value',
    message: 'tier is the string "security"; expected default',
    path: 'spec.tier',
  },
  {
    file: 'catch-all-notnets-v4.yaml',
    at: '13:19',
    code: 'catch-all-notnets',
    message:
      'notNets 0.0.0.0/0 excludes every IPv4 address, so the rule can never match IPv4; remove it or use a narrower CIDR',
    path: 'spec.ingress[0].source.notNets[0]',
  },
  {
    file: 'catch-all-notnets-v6.yaml',
    at: '13:19',
    code: 'catch-all-notnets',
    message:
      'notNets ::/0 excludes every IPv6 address, so the rule can never match IPv6; remove it or use a narrower CIDR',
    path: 'spec.ingress[0].source.notNets[0]',
  },
  {
    file: 'config-bad-mark.yaml',
    at: '6:15',
    code: 'invalid-value',
    message: `acceptMark is the string "0x4000000g"; expected the skb mark bit(s) that carry 'accepted untracked' from TC to iptables: an integer or a hex string such as '0x40000000'`,
    path: 'spec.acceptMark',
  },
  {
    file: 'config-bad-name.yaml',
    at: '4:9',
    code: 'config-name',
    message: 'NotrackConfiguration must be named "default" (every host) or "node.<host name>" (one host), not "edge-1"',
    path: 'metadata.name',
  },
  {
    file: 'config-bad-xdp-mode.yaml',
    at: '6:12',
    code: 'invalid-value',
    message: 'xdpMode is the string "offload"; expected one of native, generic, auto',
    path: 'spec.xdpMode',
  },
  {
    file: 'config-failsafe-sctp.yaml',
    at: '7:19',
    code: 'invalid-value',
    message: 'protocol is the string "SCTP"; expected one of TCP, UDP',
    path: 'spec.failsafeInboundHostPorts[0].protocol',
  },
  {
    file: 'config-wrong-api-version.yaml',
    at: '1:13',
    code: 'api-version',
    message: 'apiVersion is "projectcalico.org/v3"; NotrackConfiguration needs apiVersion: notrack.dev/v1alpha1',
    path: 'apiVersion',
  },
  {
    file: 'config-zero-mark.yaml',
    at: '6:15',
    code: 'invalid-mark',
    message: 'acceptMark must have at least one bit set',
    path: 'spec.acceptMark',
  },
  {
    file: 'donottrack-applyonforward-false.yaml',
    at: '8:19',
    code: 'dnt-needs-apply-on-forward',
    message:
      'doNotTrack policies must also set applyOnForward: true (Calico requires it: untracked rules see forwarded traffic too)',
    path: 'spec.applyOnForward',
  },
  {
    file: 'donottrack-with-prednat.yaml',
    at: '9:3',
    code: 'dnt-with-prednat',
    message: 'doNotTrack and preDNAT cannot both be true',
    path: 'spec.preDNAT',
  },
  {
    file: 'donottrack-without-applyonforward.yaml',
    at: '7:3',
    code: 'dnt-needs-apply-on-forward',
    message:
      'doNotTrack policies must also set applyOnForward: true (Calico requires it: untracked rules see forwarded traffic too)',
    path: 'spec.doNotTrack',
  },
  {
    file: 'duplicate-key.yaml',
    at: '12:7',
    code: 'duplicate-key',
    message: 'duplicate key "protocol": YAML would keep only one of them; remove or merge the other',
  },
  {
    file: 'duplicate-name.yaml',
    at: '11:9',
    code: 'duplicate-name',
    message: 'GlobalNetworkSet "deny" is already defined at test/fixtures/bad/duplicate-name.yaml:4:9',
    path: 'metadata.name',
  },
  {
    file: 'duplicate-port-name.yaml',
    at: '14:13',
    code: 'duplicate-port-name',
    message: 'port name "memcache" is already defined at ports[0]',
    path: 'spec.ports[1].name',
  },
  {
    file: 'duplicate-types.yaml',
    at: '9:28',
    code: 'duplicate-item',
    message: 'types lists "Ingress" twice (items 0 and 2); remove one',
    path: 'spec.types[2]',
  },
  {
    file: 'endpoint-port-bad-name.yaml',
    at: '9:13',
    code: 'invalid-value',
    message: 'name "pg.main" must be lower-case letters, digits and "-", starting and ending with a letter or digit',
    path: 'spec.ports[0].name',
  },
  {
    file: 'endpoint-port-bad-protocol.yaml',
    at: '12:17',
    code: 'invalid-value',
    message: 'protocol is the string "ICMP"; expected one of TCP, UDP, SCTP',
    path: 'spec.ports[0].protocol',
  },
  {
    file: 'endpoint-port-zero.yaml',
    at: '13:13',
    code: 'out-of-range',
    message: 'port is 0; it must be >= 1',
    path: 'spec.ports[0].port',
  },
  {
    file: 'endpoint-without-interface.yaml',
    at: '8:3',
    code: 'endpoint-needs-interface',
    message: 'a HostEndpoint needs interfaceName, expectedIPs or both',
    path: 'spec',
  },
  {
    file: 'flow-mapping-duplicate-key.yaml',
    at: '5:42',
    code: 'duplicate-key',
    message: 'duplicate key "role": YAML would keep only one of them; remove or merge the other',
  },
  {
    file: 'http-match.yaml',
    at: '12:7',
    code: 'unsupported-field',
    message:
      'http is not supported on host endpoints: http matches need an L7 proxy; host endpoint policy works on packets at L3/L4',
    path: 'spec.ingress[0].http',
  },
  {
    file: 'icmp-code-without-type.yaml',
    at: '13:9',
    code: 'icmp-code-without-type',
    message: 'icmp.code needs icmp.type',
    path: 'spec.ingress[0].icmp.code',
  },
  {
    file: 'icmp-type-out-of-range.yaml',
    at: '13:15',
    code: 'out-of-range',
    message: 'type is 255; it must be <= 254',
    path: 'spec.ingress[0].icmp.type',
  },
  {
    file: 'icmp-with-ipversion-6.yaml',
    at: '12:17',
    code: 'ip-version-mismatch',
    message: 'ICMP is IPv4 only; use ICMPv6 with ipVersion 6',
    path: 'spec.ingress[0].protocol',
  },
  {
    file: 'icmp-with-tcp.yaml',
    at: '12:7',
    code: 'icmp-needs-protocol',
    message: 'notICMP needs protocol ICMP or ICMPv6, not TCP',
    path: 'spec.ingress[0].notICMP',
  },
  {
    file: 'icmp-without-protocol.yaml',
    at: '11:7',
    code: 'icmp-needs-protocol',
    message: 'icmp needs protocol ICMP or ICMPv6',
    path: 'spec.ingress[0].icmp',
  },
  {
    file: 'icmpv6-with-ipversion-4.yaml',
    at: '12:17',
    code: 'ip-version-mismatch',
    message: 'ICMPv6 needs ipVersion 6 (or no ipVersion)',
    path: 'spec.ingress[0].protocol',
  },
  {
    file: 'interface-name-empty.yaml',
    at: '7:18',
    code: 'out-of-range',
    message: 'interfaceName must not be empty',
    path: 'spec.interfaceName',
  },
  {
    file: 'interface-name-too-long.yaml',
    at: '9:18',
    code: 'interface-name-too-long',
    message: 'interface name "enp0s31f6-public" is 16 characters; Linux allows at most 15',
    path: 'spec.interfaceName',
  },
  {
    file: 'interface-name-with-slash.yaml',
    at: '9:18',
    code: 'invalid-interface-name',
    message: 'interface name "eth0/1" is not a valid Linux interface name (no spaces, "/" or ":")',
    path: 'spec.interfaceName',
  },
  {
    file: 'invalid-cidr-in-set.yaml',
    at: '8:7',
    code: 'invalid-cidr',
    message: '"203.0.113.0/240" is not a valid CIDR: the prefix length after "/" must be 0-32 for IPv4',
    path: 'spec.nets[1]',
  },
  {
    file: 'invalid-cidr-prefix.yaml',
    at: '12:16',
    code: 'invalid-cidr',
    message: '"10.0.0.0/33" is not a valid CIDR: the prefix length after "/" must be 0-32 for IPv4',
    path: 'spec.ingress[0].source.nets[0]',
  },
  {
    file: 'invalid-cidr-v4.yaml',
    at: '12:16',
    code: 'invalid-cidr',
    message: '"10.0.0.256/24" is not a valid IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8 or 2001:db8::/32)',
    path: 'spec.ingress[0].source.nets[0]',
  },
  {
    file: 'invalid-cidr-v6.yaml',
    at: '12:16',
    code: 'invalid-cidr',
    message: '"2001:db8:::/48" is not a valid IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8 or 2001:db8::/32)',
    path: 'spec.ingress[0].source.nets[0]',
  },
  {
    file: 'invalid-expected-ip.yaml',
    at: '10:17',
    code: 'invalid-ip',
    message: '"10.0.0.0/24" is not a single address: write 10.0.0.0 without the prefix length',
    path: 'spec.expectedIPs[0]',
  },
  {
    file: 'ip-version-mismatch.yaml',
    at: '13:16',
    code: 'ip-version-mismatch',
    message: 'ipVersion is 6 but this CIDR is IPv4',
    path: 'spec.ingress[0].source.nets[0]',
  },
  {
    file: 'kind-not-a-string.yaml',
    at: '2:7',
    code: 'wrong-type',
    message:
      'kind must be a string, not a list (notrack reads GlobalNetworkPolicy, HostEndpoint, GlobalNetworkSet, NotrackConfiguration, FelixConfiguration)',
    path: 'kind',
  },
  {
    file: 'label-value-not-string.yaml',
    at: '6:20',
    code: 'wrong-type',
    message: `label "dos-deny-list" must be a string, not boolean true; quote it: dos-deny-list: 'true'`,
    path: 'metadata.labels["dos-deny-list"]',
  },
  {
    file: 'label-value-too-long.yaml',
    at: '6:11',
    code: 'out-of-range',
    message: 'label "role" has a value of 64 characters; label values are at most 63',
    path: 'metadata.labels.role',
  },
  {
    file: 'metadata-namespace.yaml',
    at: '5:3',
    code: 'unsupported-field',
    message:
      'namespace is not supported on host endpoints: global resources are cluster-wide and have no namespace; remove metadata.namespace',
    path: 'metadata.namespace',
  },
  {
    file: 'missing-action.yaml',
    at: '10:7',
    code: 'missing-field',
    message: 'missing required field "action" in ingress[0]',
    path: 'spec.ingress[0]',
  },
  {
    file: 'missing-api-version.yaml',
    at: '1:1',
    code: 'api-version',
    message: 'apiVersion is missing; GlobalNetworkSet needs apiVersion: projectcalico.org/v3',
  },
  {
    file: 'missing-kind.yaml',
    at: '1:1',
    code: 'missing-kind',
    message:
      'missing "kind": expected one of GlobalNetworkPolicy, HostEndpoint, GlobalNetworkSet, NotrackConfiguration, FelixConfiguration',
  },
  {
    file: 'missing-name.yaml',
    at: '4:3',
    code: 'missing-field',
    message: 'missing required field "name" in metadata',
    path: 'metadata',
  },
  {
    file: 'missing-node.yaml',
    at: '6:3',
    code: 'missing-field',
    message: 'missing required field "node" in spec',
    path: 'spec',
  },
  { file: 'missing-spec.yaml', at: '1:1', code: 'missing-field', message: 'missing required field "spec"' },
  {
    file: 'mixed-ip-families-across-sides.yaml',
    at: '14:16',
    code: 'mixed-ip-families',
    message: 'this rule mixes IPv4 and IPv6 CIDRs; split it into one rule per address family',
    path: 'spec.ingress[0].destination.nets[0]',
  },
  {
    file: 'mixed-ip-families.yaml',
    at: '12:31',
    code: 'mixed-ip-families',
    message: 'this rule mixes IPv4 and IPv6 CIDRs; split it into one rule per address family',
    path: 'spec.ingress[0].source.nets[1]',
  },
  {
    file: 'namespace-selector-in-rule.yaml',
    at: '12:9',
    code: 'unsupported-field',
    message:
      'namespaceSelector is not supported on host endpoints: namespaceSelector selects Kubernetes namespaces, which host endpoints do not have; use selector or nets',
    path: 'spec.ingress[0].source.namespaceSelector',
  },
  {
    file: 'namespace-selector-in-spec.yaml',
    at: '9:3',
    code: 'unsupported-field',
    message:
      'namespaceSelector is not supported on host endpoints: namespaceSelector selects Kubernetes namespaces, which host endpoints do not have; use selector',
    path: 'spec.namespaceSelector',
  },
  {
    file: 'not-a-mapping.yaml',
    at: '1:1',
    code: 'not-a-resource',
    message: 'a policy document must be a mapping with apiVersion, kind, metadata and spec',
  },
  {
    file: 'oversized-file.yaml',
    at: '1:1',
    code: 'file-too-large',
    limits: { maxFileBytes: 200 },
    message: 'file is 277 bytes, over the limit of 200; split it into smaller files',
  },
  {
    file: 'port-not-a-name.yaml',
    at: '13:17',
    code: 'invalid-port',
    message: `"Postgres_DB" is neither a port number, a "from:to" range nor a port name (lower-case letters, digits and '-')`,
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'port-out-of-range.yaml',
    at: '13:17',
    code: 'out-of-range',
    message: 'ports[0] is 70000; it must be <= 65535',
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'port-range-beyond-65535.yaml',
    at: '13:17',
    code: 'invalid-port',
    message: 'port range "1024:70000" goes beyond 65535',
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'port-range-reversed.yaml',
    at: '13:17',
    code: 'invalid-port',
    message: 'port range "90:80" starts after it ends; write "80:90"',
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'port-range-with-dash.yaml',
    at: '13:17',
    code: 'invalid-port',
    message: 'port range "80-90" uses "-"; Calico ranges use ":", e.g. "80:90"',
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'port-string-out-of-range.yaml',
    at: '13:17',
    code: 'invalid-port',
    message: 'port 65536 is out of range 0-65535',
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'ports-with-icmp-protocol.yaml',
    at: '13:19',
    code: 'ports-need-protocol',
    message: 'port numbers need protocol TCP, UDP or SCTP, but this rule has protocol ICMP; add e.g. "protocol: TCP"',
    path: 'spec.ingress[0].source.notPorts',
  },
  {
    file: 'ports-without-protocol.yaml',
    at: '12:16',
    code: 'ports-need-protocol',
    message: 'port numbers need protocol TCP, UDP or SCTP, but this rule has no protocol; add e.g. "protocol: TCP"',
    path: 'spec.ingress[0].destination.ports',
  },
  {
    file: 'protocol-equals-notprotocol.yaml',
    at: '12:20',
    code: 'contradiction',
    message: 'protocol and notProtocol are the same, so the rule can never match',
    path: 'spec.ingress[0].notProtocol',
  },
  {
    file: 'selector-global.yaml',
    at: '12:19',
    code: 'selector-global',
    message:
      'global() is only allowed in a namespaceSelector, which host endpoint policy does not have; remove it (all() selects everything)',
    path: 'spec.ingress[0].source.selector',
  },
  {
    file: 'selector-syntax-escaped-quotes.yaml',
    at: '6:34',
    code: 'selector-syntax',
    message: 'invalid selector: expected an expression after "&&" but found "&&"',
    path: 'spec.selector',
  },
  {
    file: 'selector-syntax-notselector.yaml',
    at: '12:34',
    code: 'selector-syntax',
    message: 'invalid selector: expected ")" after "has(trusted" but found end of selector',
    path: 'spec.ingress[0].source.notSelector',
  },
  {
    file: 'selector-syntax-quoted.yaml',
    at: '6:22',
    code: 'selector-syntax',
    message: 'invalid selector: "{" at offset 8 is never closed',
    path: 'spec.selector',
  },
  {
    file: 'selector-syntax-rule.yaml',
    at: '12:33',
    code: 'selector-syntax',
    message: `invalid selector: "=" is not an operator; write "==" to test a label's value`,
    path: 'spec.ingress[0].source.selector',
  },
  {
    file: 'selector-syntax-single-quoted-escapes.yaml',
    at: '6:42',
    code: 'selector-syntax',
    message: `invalid selector: "=" is not an operator; write "==" to test a label's value`,
    path: 'spec.selector',
  },
  {
    file: 'selector-syntax-unquoted.yaml',
    at: '6:31',
    code: 'selector-syntax',
    message: 'invalid selector: expected an expression after "&&" but found "&&"',
    path: 'spec.selector',
  },
  {
    file: 'service-account-selector.yaml',
    at: '9:3',
    code: 'unsupported-field',
    message:
      'serviceAccountSelector is not supported on host endpoints: serviceAccountSelector selects pods, not host endpoints; use selector',
    path: 'spec.serviceAccountSelector',
  },
  {
    file: 'service-accounts.yaml',
    at: '12:9',
    code: 'unsupported-field',
    message:
      'serviceAccounts is not supported on host endpoints: serviceAccounts match pods, not host endpoints; use selector or nets',
    path: 'spec.ingress[0].source.serviceAccounts',
  },
  {
    file: 'services.yaml',
    at: '12:9',
    code: 'unsupported-field',
    message:
      'services is not supported on host endpoints: services match Kubernetes Service endpoints, which notrack does not watch; use nets or a GlobalNetworkSet',
    path: 'spec.egress[0].destination.services',
  },
  {
    file: 'too-many-documents.yaml',
    at: '30:1',
    code: 'too-many-documents',
    limits: { maxDocumentsPerFile: 3 },
    message: 'file has 4 YAML documents, over the limit of 3; split it',
  },
  {
    file: 'unknown-field-config.yaml',
    at: '6:3',
    code: 'unknown-field',
    message: 'unknown field "xdpmode" in spec; did you mean "xdpMode"?',
    path: 'spec.xdpmode',
  },
  {
    file: 'unknown-field-endpoint-port.yaml',
    at: '14:7',
    code: 'unknown-field',
    message: 'unknown field "targetPort" in ports[0]',
    path: 'spec.ports[0].targetPort',
  },
  {
    file: 'unknown-field-entity.yaml',
    at: '13:9',
    code: 'unknown-field',
    message: 'unknown field "port" in destination; did you mean "ports"?',
    path: 'spec.ingress[0].destination.port',
  },
  {
    file: 'unknown-field-metadata.yaml',
    at: '5:3',
    code: 'unknown-field',
    message: 'unknown field "lables" in metadata; did you mean "labels"?',
    path: 'metadata.lables',
  },
  {
    file: 'unknown-field-rule.yaml',
    at: '11:7',
    code: 'unknown-field',
    message: 'unknown field "protocl" in ingress[0]; did you mean "protocol"?',
    path: 'spec.ingress[0].protocl',
  },
  {
    file: 'unknown-field-spec.yaml',
    at: '7:3',
    code: 'unknown-field',
    message: 'unknown field "doNotTrak" in spec; did you mean "doNotTrack"?',
    path: 'spec.doNotTrak',
  },
  {
    file: 'unknown-field-top-level.yaml',
    at: '5:1',
    code: 'unknown-field',
    message: 'unknown field "specs" at the top level; did you mean "spec"?',
    path: 'specs',
  },
  {
    file: 'unknown-kind-typo.yaml',
    at: '2:7',
    code: 'unknown-kind',
    message:
      'unknown kind "GlobalNetworkPolcy"; did you mean "GlobalNetworkPolicy"? (notrack reads GlobalNetworkPolicy, HostEndpoint, GlobalNetworkSet, NotrackConfiguration, FelixConfiguration)',
    path: 'kind',
  },
  {
    file: 'unknown-kind.yaml',
    at: '2:7',
    code: 'unknown-kind',
    message:
      'unknown kind "ConfigMap" (notrack reads GlobalNetworkPolicy, HostEndpoint, GlobalNetworkSet, NotrackConfiguration, FelixConfiguration)',
    path: 'kind',
  },
  {
    file: 'unknown-named-port.yaml',
    at: '26:17',
    code: 'unknown-named-port',
    message: 'no HostEndpoint defines a port named "postgre"; did you mean "postgres"?',
    path: 'spec.ingress[0].destination.ports[0]',
  },
  {
    file: 'wrong-api-version.yaml',
    at: '1:13',
    code: 'api-version',
    message: 'apiVersion is "projectcalico.org/v1"; HostEndpoint needs apiVersion: projectcalico.org/v3',
    path: 'apiVersion',
  },
  {
    file: 'wrong-type-donottrack.yaml',
    at: '7:15',
    code: 'wrong-type',
    message: 'doNotTrack must be a boolean, not the string "yes"',
    path: 'spec.doNotTrack',
  },
  {
    file: 'wrong-type-nets.yaml',
    at: '12:15',
    code: 'wrong-type',
    message: 'nets must be a list, not the string "198.18.0.0/15"',
    path: 'spec.ingress[0].source.nets',
  },
  {
    file: 'wrong-type-order.yaml',
    at: '6:10',
    code: 'wrong-type',
    message: 'order must be a number, not the string "first"',
    path: 'spec.order',
  },
  {
    file: 'yaml-bad-indentation.yaml',
    at: '5:1',
    code: 'yaml-syntax',
    message: 'YAML: All mapping items must start at the same column',
  },
  {
    file: 'yaml-unclosed-flow-sequence.yaml',
    at: '14:1',
    code: 'yaml-syntax',
    message: 'YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
  },
];

function expected(c: Case): string {
  const [line, col] = c.at.split(':');
  return `${DIR}/${c.file}:${line}:${col}: error[${c.code}]: ${c.message}${c.path ? ` (at ${c.path})` : ''}`;
}

function errorsOf(file: string, content: Uint8Array, limits: Partial<DocumentLimits> = {}): string[] {
  const result = loadResources([policyFile(file, content)], { ...DEFAULT_DOCUMENT_LIMITS, ...limits });
  assert.is(result.valid, false, `${file} must not validate`);
  return result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
}

for (const c of CASES) {
  test(`${c.file}: ${c.code}`, () => {
    const content = new Uint8Array(readFileSync(`${DIR}/${c.file}`));
    assert.equal(errorsOf(`${DIR}/${c.file}`, content, c.limits), [expected(c)]);
  });
}

test('the corpus has at least 50 cases and every fixture file has its expectation', () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  assert.equal(files, CASES.map((c) => c.file).sort());
  assert.ok(CASES.length >= 50, `only ${CASES.length} cases`);
});

test('the size guards only fire over their limits: the same files load under the default limits', () => {
  for (const file of ['oversized-file.yaml', 'too-many-documents.yaml']) {
    const result = loadResources([policyFile(file, new Uint8Array(readFileSync(`${DIR}/${file}`)))]);
    assert.equal(
      result.diagnostics.filter((d) => d.severity === 'error'),
      [],
      file,
    );
  }
});

test('a file that is not UTF-8 is refused at the line and column of the first bad byte', () => {
  // "café" saved as Latin-1: 0xe9 followed by a newline is not a UTF-8 sequence.
  const content = new Uint8Array(
    Buffer.from('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: caf\xe9\n', 'latin1'),
  );
  assert.equal(errorsOf('sets/latin1.yaml', content), [
    'sets/latin1.yaml:4:12: error[not-utf8]: file is not valid UTF-8 (byte 0xe9 at offset 77); save it as UTF-8',
  ]);
});

test('a truncated multi-byte sequence at the end of a file is refused too', () => {
  const text = Buffer.from('apiVersion: projectcalico.org/v3\n# \u00e9t\u00e9\n', 'utf8');
  const content = new Uint8Array(text.subarray(0, text.length - 2)); // cut the last "é" in half
  assert.equal(errorsOf('cut.yaml', content), [
    'cut.yaml:2:5: error[not-utf8]: file is not valid UTF-8 (byte 0xc3 at offset 38); save it as UTF-8',
  ]);
});

test('a file marked too large by the source is refused without being read', () => {
  const result = loadResources([{ path: 'huge.yaml', content: new Uint8Array(0), size: 50_000_000, tooLarge: true }]);
  assert.equal(result.diagnostics.map(formatDiagnostic), [
    `huge.yaml:1:1: error[file-too-large]: file is 50000000 bytes, over the limit of ${DEFAULT_DOCUMENT_LIMITS.maxFileBytes}; split it into smaller files`,
  ]);
});

test.run();
