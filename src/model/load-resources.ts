// The model stage's entry: policy files -> positioned diagnostics and the typed resource set.
import {
  parseDocuments,
  diagnosticAt,
  DEFAULT_DOCUMENT_LIMITS,
  type DocumentLimits,
  type ParseCache,
  type PolicyFile,
  type SourceDocument,
} from './documents.js';
import { sortDiagnostics, type Diagnostic, type PathSegment } from './diagnostics.js';
import { validateDocument, vouchedKind, type Kind } from './schemas.js';
import { checkConfiguration, checkHostEndpoint, checkNetworkSet, checkPolicy } from './semantic.js';
import { lintResources } from './lint.js';
import { expandLists } from './list-documents.js';
import { checkFelixConfiguration, failsafeSourceNotices } from './felix-configuration.js';
import { didYouMean } from './suggest.js';
import type { ConfigurationOverride, ResourceSet } from './resources.js';
import type {
  FelixConfiguration,
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  HostEndpoint as HostEndpointYaml,
  NotrackConfiguration,
} from './schema-types.gen.js';

export interface LoadResult {
  /** Valid resources (those with errors are left out). Use only when `valid`. */
  resources: ResourceSet;
  /** The document each enforced policy was read from, by policy name (for positions). */
  policyDocuments: ReadonlyMap<string, SourceDocument>;
  diagnostics: Diagnostic[];
  valid: boolean;
  /**
   * The documents whose kind, apiVersion and schema checks found nothing (or that the parse cache vouched for), with
   * their kind: what a parse cache may record, so that the same bytes skip those checks next time.
   */
  validKinds: ReadonlyMap<SourceDocument, Kind>;
  counts: { files: number; documents: number; kinds: Record<string, number> };
}

/**
 * Parses, validates and lints one revision's policy files. Pure: no I/O. `parsed`: files parsed already (see
 * ParseCache), shared by the loads of two revisions.
 */
export function loadResources(
  files: readonly PolicyFile[],
  limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS,
  parsed?: ParseCache,
): LoadResult {
  const parsedFiles = parseDocuments(files, limits, parsed);
  const lists = expandLists(parsedFiles.documents);
  const diagnostics = [...parsedFiles.diagnostics, ...lists.diagnostics];
  const resources: ResourceSet = {
    policies: [],
    ignoredPolicies: [],
    hostEndpoints: [],
    networkSets: [],
    configurations: [],
  };
  const kinds: Record<string, number> = {};
  const firstByName = new Map<string, SourceDocument>();
  const policyDocs = new Map<string, SourceDocument>();
  const namedPortUses: { doc: SourceDocument; path: PathSegment[]; name: string }[] = [];
  const configDocs = new Map<ConfigurationOverride, SourceDocument>();
  const validKinds = new Map<SourceDocument, Kind>();

  for (const doc of lists.documents) {
    // A document the parse cache vouches for gave no diagnostic here before, and would give none again: its schema
    // validator is then never even compiled (most of this stage's time on a one-file change).
    const vouched = vouchedKind(doc);
    const check = vouched ? { kind: vouched, diagnostics: [] } : validateDocument(doc);
    diagnostics.push(...check.diagnostics);
    if (!check.kind) continue;
    const kind: Kind = check.kind;
    if (!check.diagnostics.length) validKinds.set(doc, kind);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    if (check.diagnostics.some((d) => d.severity === 'error')) continue;
    const name = (doc.value as { metadata: { name: string } }).metadata.name;
    const key = `${kind}/${name}`;
    const first = firstByName.get(key);
    if (first) {
      const at = first.locate(['metadata', 'name']);
      diagnostics.push(
        diagnosticAt(
          doc,
          ['metadata', 'name'],
          'error',
          'duplicate-name',
          `${kind} "${name}" is already defined at ${first.file}:${at.line}:${at.col}`,
        ),
      );
      continue;
    }
    firstByName.set(key, doc);
    switch (kind) {
      case 'GlobalNetworkPolicy': {
        const r = checkPolicy(doc, doc.value as GlobalNetworkPolicy);
        diagnostics.push(...r.diagnostics);
        if (!r.policy) break;
        if (!r.policy.doNotTrack) {
          resources.ignoredPolicies.push(name);
          break;
        }
        resources.policies.push(r.policy);
        policyDocs.set(name, doc);
        for (const dir of ['ingress', 'egress'] as const) {
          r.policy[dir].forEach((rule, i) => {
            for (const side of ['source', 'destination'] as const) {
              for (const field of ['ports', 'notPorts'] as const) {
                rule[side][field].forEach((p, k) => {
                  if (p.kind === 'named')
                    namedPortUses.push({ doc, path: ['spec', dir, i, side, field, k], name: p.name });
                });
              }
            }
          });
        }
        break;
      }
      case 'HostEndpoint': {
        const r = checkHostEndpoint(doc, doc.value as HostEndpointYaml);
        diagnostics.push(...r.diagnostics);
        if (r.endpoint) resources.hostEndpoints.push(r.endpoint);
        break;
      }
      case 'GlobalNetworkSet': {
        const r = checkNetworkSet(doc, doc.value as GlobalNetworkSet);
        diagnostics.push(...r.diagnostics);
        if (r.set) resources.networkSets.push(r.set);
        break;
      }
      case 'NotrackConfiguration': {
        const r = checkConfiguration(doc, doc.value as NotrackConfiguration);
        diagnostics.push(...r.diagnostics);
        if (r.config) resources.configurations.push(r.config);
        break;
      }
      case 'FelixConfiguration': {
        const r = checkFelixConfiguration(doc, doc.value as FelixConfiguration);
        diagnostics.push(...r.diagnostics);
        if (r.config) {
          resources.configurations.push(r.config);
          configDocs.set(r.config, doc);
        }
        break;
      }
    }
  }
  diagnostics.push(...failsafeSourceNotices(resources.configurations, configDocs));

  // Named ports resolve against the ports every HostEndpoint defines.
  const defined = new Set(resources.hostEndpoints.flatMap((h) => h.ports.map((p) => p.name)));
  for (const use of namedPortUses) {
    if (!defined.has(use.name)) {
      diagnostics.push(
        diagnosticAt(
          use.doc,
          use.path,
          'error',
          'unknown-named-port',
          `no HostEndpoint defines a port named "${use.name}"${didYouMean(use.name, defined)}`,
        ),
      );
    }
  }

  const valid = !diagnostics.some((d) => d.severity === 'error');
  if (valid) diagnostics.push(...lintResources(resources, policyDocs));
  return {
    resources,
    policyDocuments: policyDocs,
    diagnostics: sortDiagnostics(diagnostics),
    valid,
    validKinds,
    counts: { files: files.length, documents: lists.documents.length, kinds },
  };
}
