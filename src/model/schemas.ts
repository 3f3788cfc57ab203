// The JSON Schemas of schema/, compiled once by one Ajv, and its findings turned into positioned, readable diagnostics.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseCidr, parseIp } from '../net/cidr.js';
import { diagnosticAt, type SourceDocument } from './documents.js';
import { SCHEMA_DIR } from './schema-digest.js';
import type { Diagnostic, PathSegment } from './diagnostics.js';
import { closest, didYouMean } from './suggest.js';

/** The kinds notrack reads, with the apiVersion each must carry and its schema file. */
const KINDS = {
  GlobalNetworkPolicy: { apiVersion: 'projectcalico.org/v3', schema: 'globalnetworkpolicy.schema.json' },
  HostEndpoint: { apiVersion: 'projectcalico.org/v3', schema: 'hostendpoint.schema.json' },
  GlobalNetworkSet: { apiVersion: 'projectcalico.org/v3', schema: 'globalnetworkset.schema.json' },
  NotrackConfiguration: { apiVersion: 'notrack.dev/v1alpha1', schema: 'notrackconfiguration.schema.json' },
  FelixConfiguration: { apiVersion: 'projectcalico.org/v3', schema: 'felixconfiguration.schema.json' },
} as const;
export type Kind = keyof typeof KINDS;

/** Calico kinds that may sit in the same repository but are not notrack's job: read past with a notice. */
const OTHER_CALICO_KINDS: Record<string, string> = {
  NetworkPolicy: 'namespaced NetworkPolicy applies to workloads, not host endpoints',
  StagedGlobalNetworkPolicy: 'staged policies are not enforced',
  StagedNetworkPolicy: 'staged policies are not enforced',
  NetworkSet: 'namespaced NetworkSets are only used by workload policy',
  Profile: 'profiles are tracked policy',
  Tier: 'notrack has only the default tier',
  BGPConfiguration: 'not a firewall resource',
  BGPPeer: 'not a firewall resource',
  IPPool: 'not a firewall resource',
  KubeControllersConfiguration: 'not a firewall resource',
  ClusterInformation: 'not a firewall resource',
};

let ajv: Ajv | null = null;
const compiled = new Map<string, ValidateFunction>();

/** The one Ajv of notrack: the shared definitions, formats and keywords every schema of schema/ uses. */
function sharedAjv(): Ajv {
  if (ajv) return ajv;
  ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('cidr', { type: 'string', validate: (s: string) => parseCidr(s) !== null });
  ajv.addFormat('ip', { type: 'string', validate: (s: string) => parseIp(s) !== null });
  ajv.addKeyword({ keyword: 'tsType', schemaType: 'string' });
  ajv.addKeyword({
    keyword: 'x-notrack-unsupported',
    schemaType: 'string',
    // Present at all means unsupported: the keyword only runs when the field exists.
    validate: () => false,
    errors: false,
  });
  ajv.addSchema(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'common.schema.json'), 'utf8')));
  return ajv;
}

/** The compiled validator of one schema file of schema/ (compiled once). */
function validatorOf(schemaFile: string): ValidateFunction {
  let validate = compiled.get(schemaFile);
  if (!validate) {
    validate = sharedAjv().compile(JSON.parse(readFileSync(path.join(SCHEMA_DIR, schemaFile), 'utf8')));
    compiled.set(schemaFile, validate);
  }
  return validate;
}

/**
 * Checks a document against one schema file of schema/ (kind and apiVersion already checked): its problems as
 * positioned diagnostics, none when it is valid.
 */
export function schemaDiagnostics(doc: SourceDocument, schemaFile: string): Diagnostic[] {
  const validate = validatorOf(schemaFile);
  return validate(doc.value) ? [] : explain(doc, validate.errors ?? []);
}

/**
 * The kind a document was vouched for as (SourceDocument.validKind), when it is one notrack reads and the document
 * still names it; else null (then it is checked).
 */
export function vouchedKind(doc: SourceDocument): Kind | null {
  const kind = doc.validKind;
  if (kind === undefined || !Object.hasOwn(KINDS, kind)) return null;
  const v = doc.value as { kind?: unknown } | null;
  return typeof v === 'object' && v !== null && v.kind === kind ? (kind as Kind) : null;
}

type KindCheck = { kind: Kind; diagnostics: Diagnostic[] } | { kind: null; diagnostics: Diagnostic[] };

/** Checks one document's kind and apiVersion, then its structure against the kind's schema. */
export function validateDocument(doc: SourceDocument): KindCheck {
  const v = doc.value;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return {
      kind: null,
      diagnostics: [
        diagnosticAt(
          doc,
          [],
          'error',
          'not-a-resource',
          'a policy document must be a mapping with apiVersion, kind, metadata and spec',
        ),
      ],
    };
  }
  const obj = v as Record<string, unknown>;
  const kindValue = obj['kind'];
  if (kindValue === undefined) {
    return {
      kind: null,
      diagnostics: [
        diagnosticAt(
          doc,
          [],
          'error',
          'missing-kind',
          `missing "kind": expected one of ${Object.keys(KINDS).join(', ')}`,
        ),
      ],
    };
  }
  if (typeof kindValue !== 'string') {
    return {
      kind: null,
      diagnostics: [
        diagnosticAt(
          doc,
          ['kind'],
          'error',
          'wrong-type',
          `kind must be a string, not ${describe(kindValue)} (notrack reads ${Object.keys(KINDS).join(', ')})`,
        ),
      ],
    };
  }
  if (!(kindValue in KINDS)) {
    const name = String(kindValue);
    if (name in OTHER_CALICO_KINDS) {
      return {
        kind: null,
        diagnostics: [
          diagnosticAt(
            doc,
            ['kind'],
            'notice',
            'kind-ignored',
            `${name} is not read by notrack: ${OTHER_CALICO_KINDS[name]}`,
          ),
        ],
      };
    }
    return {
      kind: null,
      diagnostics: [
        diagnosticAt(
          doc,
          ['kind'],
          'error',
          'unknown-kind',
          `unknown kind "${name}"${didYouMean(name, Object.keys(KINDS))} (notrack reads ${Object.keys(KINDS).join(', ')})`,
        ),
      ],
    };
  }
  const kind = kindValue as Kind;
  const expected = KINDS[kind].apiVersion;
  if (obj['apiVersion'] !== expected) {
    const got = obj['apiVersion'] === undefined ? 'missing' : `"${String(obj['apiVersion'])}"`;
    return {
      kind: null,
      diagnostics: [
        diagnosticAt(
          doc,
          obj['apiVersion'] === undefined ? [] : ['apiVersion'],
          'error',
          'api-version',
          `apiVersion is ${got}; ${kind} needs apiVersion: ${expected}`,
        ),
      ],
    };
  }
  return { kind, diagnostics: schemaDiagnostics(doc, KINDS[kind].schema) };
}

function pointerToPath(pointer: string, value: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let cur: unknown = value;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const isIndex = Array.isArray(cur) && /^\d+$/.test(seg);
    const key: PathSegment = isIndex ? Number(seg) : seg;
    out.push(key);
    cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** How a message names the field at `path`: its key, with the index when it is a list item (ports[2]). */
function fieldName(path: PathSegment[]): string {
  let index = '';
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i]!;
    if (typeof seg === 'string') return seg + index;
    index = `[${seg}]${index}`;
  }
  return 'value';
}

/** What the schema's patterns mean, in words (keyed by the pattern: one field name can carry different rules). */
const FRIENDLY_PATTERNS: Record<string, string> = {
  '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$':
    'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$':
    'must be lower-case letters, digits and "-", starting and ending with a letter or digit',
};

function knownFields(e: ErrorObject): string[] {
  return Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
}

/**
 * The one failure of the oneOf branch whose type the value has, when that failure is only a range
 * (70000 as a port is "too big", not "neither a number nor a name").
 */
function rangeFailure(oneOf: ErrorObject, errors: ErrorObject[]): ErrorObject | null {
  const prefix = `${oneOf.schemaPath}/`;
  const byBranch = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    if (e.instancePath !== oneOf.instancePath || !e.schemaPath.startsWith(prefix)) continue;
    const branch = e.schemaPath.slice(prefix.length).split('/')[0]!;
    byBranch.set(branch, [...(byBranch.get(branch) ?? []), e]);
  }
  const typed = [...byBranch.values()].filter((list) => !list.some((e) => e.keyword === 'type'));
  if (typed.length !== 1 || typed[0]!.length !== 1) return null;
  const only = typed[0]![0]!;
  return ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(only.keyword) ? only : null;
}

/** One readable diagnostic per problem; oneOf cascades collapse into one message about the field. */
function explain(doc: SourceDocument, errors: ErrorObject[]): Diagnostic[] {
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  // "specs" for "spec" is one mistake: the unknown field with its suggestion says it all, not also "missing spec".
  const suggested = new Set(
    errors
      .filter((e) => e.keyword === 'additionalProperties')
      .flatMap((e) => {
        const c = closest(String((e.params as Record<string, unknown>)['additionalProperty']), knownFields(e));
        return c ? [`${e.instancePath}/${c}`] : [];
      }),
  );
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (let e of errors) {
    if (e.keyword !== 'oneOf' && oneOfPaths.has(e.instancePath) && e.schemaPath.includes('/oneOf/')) continue;
    // The propertyNames error itself names the bad key; its inner pattern/length errors would repeat it without the key.
    if (e.schemaPath.includes('/propertyNames/')) continue;
    if (
      e.keyword === 'required' &&
      suggested.has(`${e.instancePath}/${String((e.params as Record<string, unknown>)['missingProperty'])}`)
    )
      continue;
    if (e.keyword === 'oneOf') e = rangeFailure(e, errors) ?? e;
    const path = pointerToPath(e.instancePath, doc.value);
    const d = explainOne(doc, e, path);
    const id = `${d.path}|${d.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(d);
    }
  }
  return out;
}

function explainOne(doc: SourceDocument, e: ErrorObject, path: PathSegment[]): Diagnostic {
  const field = fieldName(path);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      const known = knownFields(e);
      const where = path.length ? `in ${field}` : 'at the top level';
      return diagnosticAt(
        doc,
        [...path, name],
        'error',
        'unknown-field',
        `unknown field "${name}" ${where}${didYouMean(name, known)}`,
        { key: true },
      );
    }
    case 'required':
      return diagnosticAt(
        doc,
        path,
        'error',
        'missing-field',
        `missing required field "${String(params['missingProperty'])}"${path.length ? ` in ${field}` : ''}`,
      );
    case 'x-notrack-unsupported':
      return diagnosticAt(
        doc,
        path,
        'error',
        'unsupported-field',
        `${field} is not supported on host endpoints: ${String(e.schema)}`,
        { key: true },
      );
    case 'type':
      if (path.length >= 2 && path[path.length - 2] === 'labels' && typeof e.data !== 'object') {
        // YAML reads true, 1.0 or 2024 as non-strings; Calico label values are always strings.
        return diagnosticAt(
          doc,
          path,
          'error',
          'wrong-type',
          `label "${field}" must be a string, not ${describe(e.data)}; quote it: ${field}: '${String(e.data)}'`,
        );
      }
      return diagnosticAt(
        doc,
        path,
        'error',
        'wrong-type',
        `${field} must be ${article(String(params['type']))}, not ${describe(e.data)}`,
      );
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const expected = allowed.length === 1 ? allowed[0]! : `one of ${allowed.join(', ')}`;
      return diagnosticAt(
        doc,
        path,
        'error',
        'invalid-value',
        `${field} is ${describe(e.data)}; expected ${expected}${didYouMean(String(e.data), allowed)}`,
      );
    }
    case 'const':
      return diagnosticAt(
        doc,
        path,
        'error',
        'invalid-value',
        `${field} must be ${JSON.stringify(params['allowedValue'])}`,
      );
    case 'oneOf':
      return diagnosticAt(doc, path, 'error', 'invalid-value', oneOfMessage(field, e));
    case 'format':
      return params['format'] === 'cidr'
        ? diagnosticAt(doc, path, 'error', 'invalid-cidr', cidrProblem(String(e.data)))
        : diagnosticAt(doc, path, 'error', 'invalid-ip', ipProblem(String(e.data)));
    case 'pattern':
      if (path.length >= 2 && path[path.length - 2] === 'labels') {
        return diagnosticAt(
          doc,
          path,
          'error',
          'invalid-label',
          `label value ${quote(e.data)} must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit`,
        );
      }
      return diagnosticAt(
        doc,
        path,
        'error',
        'invalid-value',
        `${field} ${quote(e.data)} ${FRIENDLY_PATTERNS[String(params['pattern'])] ?? `does not match ${String(params['pattern'])}`}`,
      );
    case 'propertyNames': {
      const key = String(params['propertyName']);
      return diagnosticAt(
        doc,
        [...path, key],
        'error',
        'invalid-label',
        `label key ${quote(key)} is not valid: a name of at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit, optionally after a DNS prefix and "/" (example.com/role)`,
        { key: true },
      );
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return diagnosticAt(
        doc,
        path,
        'error',
        'out-of-range',
        `${field} is ${String(e.data)}; it must be ${String(params['comparison'])} ${String(params['limit'])}`,
      );
    case 'maxItems':
    case 'minItems':
    case 'maxLength':
    case 'minLength':
      if (e.keyword === 'minLength' && params['limit'] === 1) {
        return diagnosticAt(doc, path, 'error', 'out-of-range', `${field} must not be empty`);
      }
      if (e.keyword === 'maxLength' && path.length >= 2 && path[path.length - 2] === 'labels') {
        return diagnosticAt(
          doc,
          path,
          'error',
          'out-of-range',
          `label "${field}" has a value of ${String(e.data).length} characters; label values are at most ${String(params['limit'])}`,
        );
      }
      return diagnosticAt(
        doc,
        path,
        'error',
        'out-of-range',
        `${field} ${e.keyword.startsWith('max') ? 'has more than' : 'has fewer than'} ${String(params['limit'])} ${e.keyword.endsWith('Items') ? 'items' : 'characters'}`,
      );
    case 'uniqueItems': {
      const [first, again] = [Number(params['i']), Number(params['j'])].sort((a, b) => a - b) as [number, number];
      const item = Array.isArray(e.data) ? e.data[again] : undefined;
      return diagnosticAt(
        doc,
        [...path, again],
        'error',
        'duplicate-item',
        `${field} lists ${quote(item)} twice (items ${first} and ${again}); remove one`,
      );
    }
    default:
      return diagnosticAt(doc, path, 'error', 'schema', `${field} ${e.message ?? 'is invalid'}`);
  }
}

/** A value as written in a message: strings in double quotes, the rest as text. */
function quote(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value)
    : String(value);
}

/** Why `text` is not a CIDR, as precisely as can be told. */
function cidrProblem(text: string): string {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip && slash >= 0) {
    const max = ip.family === 4 ? 32 : 128;
    return `${quote(text)} is not a valid CIDR: the prefix length after "/" must be 0-${max} for IPv${ip.family}`;
  }
  return `${quote(text)} is not a valid IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8 or 2001:db8::/32)`;
}

function ipProblem(text: string): string {
  const slash = text.indexOf('/');
  if (slash > 0 && parseIp(text.slice(0, slash))) {
    return `${quote(text)} is not a single address: write ${text.slice(0, slash)} without the prefix length`;
  }
  return `${quote(text)} is not a valid IPv4 or IPv6 address`;
}

/** JSON Schema type names in the words of YAML: list and mapping. */
function article(type: string): string {
  const t = type
    .replace(/,/g, ' or ')
    .replace(/\barray\b/g, 'list')
    .replace(/\bobject\b/g, 'mapping');
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function oneOfMessage(field: string, e: ErrorObject): string {
  const schema = e.parentSchema as { description?: string; oneOf?: { enum?: unknown[] }[] } | undefined;
  const names = (schema?.oneOf ?? []).flatMap((s) => (s.enum ?? []).map(String));
  const hint = typeof e.data === 'string' && names.length ? didYouMean(e.data, names) : '';
  // The first sentence of the schema's description says what is expected; the rest is for editors (defaults …).
  const want = schema?.description
    ? `; expected ${lowerFirst(schema.description.split(/\.(\s|$)/)[0]!)}`
    : ' and is not valid';
  return `${field} is ${describe(e.data)}${want}${hint}`;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
