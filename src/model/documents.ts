// Policy files -> YAML documents with source positions, refusing input that is not safe or sane to read.
import { isAscii, isUtf8 } from 'node:buffer';
import { DEFAULT_MAX_FILE_BYTES } from '../source/snapshot.js';
import { deepestNesting, MAX_YAML_DEPTH } from './yaml-depth.js';
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import jsyaml from 'js-yaml';
import { formatPath, type Diagnostic, type PathSegment } from './diagnostics.js';
import { claimRuns, scanSetFile, SET_SCAN_MIN_BYTES, type ScannedNets } from './set-file.js';

/**
 * The `yaml` library, loaded (with require, its CommonJS build) the first time a file needs positions or its alias
 * guard: most loads never do, and its import cost every parse otherwise.
 */
let yamlLibrary: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlLibrary ??= createRequire(import.meta.url)('yaml') as typeof Yaml);

export interface PolicyFile {
  /** Path relative to the repository root, forward slashes. */
  path: string;
  content: Uint8Array;
  size: number;
  tooLarge?: boolean;
}

export interface DocumentLimits {
  /** Largest file read, in bytes. */
  maxFileBytes: number;
  /** Most YAML documents in one file. */
  maxDocumentsPerFile: number;
  /** Most alias expansions in one document ("billion laughs" guard). */
  maxAliasCount: number;
  /** Files at least this large are first offered to the set-file scanner (default SET_SCAN_MIN_BYTES). */
  setScanMinBytes?: number;
}

export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = {
  // One limit for every command: the source stage marks larger files, and this names the same number.
  maxFileBytes: DEFAULT_MAX_FILE_BYTES,
  maxDocumentsPerFile: 10_000,
  maxAliasCount: 100,
};

interface Position {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  /** The node is a quoted scalar: its text starts one column after `col`. */
  quoted: boolean;
  /** The node's source text as written (quotes and escapes included). */
  raw: string;
}

/** One YAML document of a policy file, with its plain value and a way back from a JSON path to line and column. */
export interface SourceDocument {
  file: string;
  index: number;
  value: unknown;
  /** Position of the node at `path`, or of its nearest existing ancestor. `key` points at the map key instead. */
  locate(path: readonly PathSegment[], opts?: { key?: boolean }): Position;
  /** Where this document sits inside the YAML document, for an item of a `…List` (['items', 3]); shown in JSON paths. */
  pathPrefix?: readonly PathSegment[];
  /** A GlobalNetworkSet read by the set-file scanner: its nets, already parsed; `value.spec.nets` is then empty. */
  scannedNets?: ScannedNets;
  /**
   * The kind this document's content passed the kind, apiVersion and schema checks as, with no diagnostic at all,
   * under this notrack's compiler: set only by the parse cache, from its checksummed entry of these exact bytes
   * (LoadResult.validKinds said so when the entry was written). loadResources then skips those checks; the checks
   * across documents (names, references, lint) still run.
   */
  validKind?: string;
}

interface ParsedDocuments {
  documents: SourceDocument[];
  diagnostics: Diagnostic[];
}

/**
 * Files parsed already, by file object, for one set of limits: `plan` hands the base the head's object of each file
 * both revisions hold alike (the same Git blob), so a 20 MB deny list is parsed once and its documents are shared.
 * Sharing is safe because nothing after the parse changes a document.
 */
export type ParseCache = WeakMap<PolicyFile, Readonly<ParsedDocuments>>;

/** Parses every file into documents; files that cannot be read safely give errors and no documents. */
export function parseDocuments(
  files: readonly PolicyFile[],
  limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS,
  cache?: ParseCache,
): ParsedDocuments {
  const documents: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const f of files) {
    let parsed = cache?.get(f);
    if (!parsed) {
      parsed = { documents: [], diagnostics: [] };
      parseFile(f, limits, parsed.documents, parsed.diagnostics);
      cache?.set(f, parsed);
    }
    // Loops, not push(...list): a file may hold up to maxDocumentsPerFile documents.
    for (const d of parsed.documents) documents.push(d);
    for (const d of parsed.diagnostics) diagnostics.push(d);
  }
  return { documents, diagnostics };
}

function fileError(file: string, code: string, message: string, line = 1, col = 1): Diagnostic {
  return { severity: 'error', code, message, file, line, col, path: '' };
}

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let n = 0,
      min = 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

function lineColOfByte(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1,
    col = 1;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      col = 1;
    } else if ((bytes[i]! & 0xc0) !== 0x80) col++;
  }
  return { line, col };
}

/**
 * Anchors are the only way a small YAML file can expand into a huge value. Files without them take the fast path;
 * the rest go through the `yaml` library, which counts alias expansions. The test is loose on purpose: a false
 * positive only costs speed.
 */
const ANCHOR = /(^|[\s[{,:-])&[^\s&]/m;

function parseFile(f: PolicyFile, limits: DocumentLimits, out: SourceDocument[], diags: Diagnostic[]): void {
  if (f.tooLarge || f.size > limits.maxFileBytes) {
    diags.push(
      fileError(
        f.path,
        'file-too-large',
        `file is ${f.size} bytes, over the limit of ${limits.maxFileBytes}; split it into smaller files`,
      ),
    );
    return;
  }
  // Native passes first: most policy files are ASCII, which decodes byte for byte and holds no line separator.
  const ascii = isAscii(f.content);
  const bad = ascii || isUtf8(f.content) ? -1 : firstInvalidUtf8(f.content);
  if (bad >= 0) {
    const at = lineColOfByte(f.content, bad);
    diags.push(
      fileError(
        f.path,
        'not-utf8',
        `file is not valid UTF-8 (byte 0x${f.content[bad]!.toString(16).padStart(2, '0')} at offset ${bad}); save it as UTF-8`,
        at.line,
        at.col,
      ),
    );
    return;
  }
  let text = ascii
    ? Buffer.from(f.content.buffer, f.content.byteOffset, f.content.byteLength).toString('latin1')
    : new TextDecoder('utf-8').decode(f.content);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // YAML 1.2 breaks lines only at LF and CR; the two parsers here disagree about U+2028, U+2029 and NEL, so what
  // one sees as two documents the other sees as one. Refused, not guessed.
  const separator = ascii ? -1 : text.search(/[\u2028\u2029\u0085]/);
  if (separator >= 0) {
    const before = text.slice(0, separator);
    const line = before.split('\n').length;
    const col = separator - before.lastIndexOf('\n');
    const name = `U+${text.charCodeAt(separator).toString(16).toUpperCase().padStart(4, '0')}`;
    diags.push(
      fileError(
        f.path,
        'line-separator',
        `file contains the line separator ${name}, which YAML does not break lines at; save the file with plain line feeds`,
        line,
        col,
      ),
    );
    return;
  }
  const anchors = text.includes('&') && ANCHOR.test(text);
  if (!anchors && text.length >= (limits.setScanMinBytes ?? SET_SCAN_MIN_BYTES)) {
    if (readScannedSets(f.path, text, limits, out)) return;
  }
  const deep = deepestNesting(text);
  if (deep) {
    diags.push(
      fileError(
        f.path,
        'nesting-too-deep',
        `YAML nests deeper than ${MAX_YAML_DEPTH} levels here; no policy needs that (a parser would run out of stack)`,
        deep.line,
        deep.col,
      ),
    );
    return;
  }
  // Positions come from the `yaml` library, parsed only when a diagnostic needs one (most files never do).
  let positioned: PositionedFile | null = null;
  const positions = () => (positioned ??= parseWithPositions(text, limits));
  if (!anchors) {
    const fast = parseFast(text);
    if (fast) {
      if (fast.length > limits.maxDocumentsPerFile) {
        tooManyDocuments(f.path, positions(), fast.length, limits, diags);
        return;
      }
      fast.forEach((value, index) =>
        out.push({
          file: f.path,
          index,
          value,
          locate: (path, opts) => positions().locate(index, path, opts?.key ?? false),
        }),
      );
      return;
    }
  }
  // Anchors, or the fast parser refused the file: the `yaml` library gives the precise errors and alias limits.
  const p = positions();
  if (p.documents.length > limits.maxDocumentsPerFile) {
    tooManyDocuments(f.path, p, p.documents.length, limits, diags);
    return;
  }
  for (const e of p.errors) diags.push({ ...e, file: f.path });
  p.documents.forEach((d, index) => {
    if (d.value === undefined) return;
    out.push({
      file: f.path,
      index,
      value: d.value,
      locate: (path, opts) => p.locate(index, path, opts?.key ?? false),
    });
  });
}

/**
 * A large set file in the scanner's grammar: its lists scanned into Cidrs, the rest parsed as YAML. False (nothing
 * added) when the file is not in the grammar or anything in the rest needs the YAML parser's diagnostics.
 */
function readScannedSets(file: string, text: string, limits: DocumentLimits, out: SourceDocument[]): boolean {
  const scanned = scanSetFile(text);
  if (!scanned || deepestNesting(scanned.rest)) return false;
  const values = parseFast(scanned.rest);
  if (!values || values.length > limits.maxDocumentsPerFile) return false;
  const nets = claimRuns(values, scanned.runs);
  if (!nets) return false;
  // Positions come from the whole text, as on the other paths, parsed only when a diagnostic needs one.
  let positioned: PositionedFile | null = null;
  const positions = () => (positioned ??= parseWithPositions(text, limits));
  values.forEach((value, index) => {
    const doc: SourceDocument = {
      file,
      index,
      value,
      locate: (path, opts) => positions().locate(index, path, opts?.key ?? false),
    };
    if (nets[index]) doc.scannedNets = nets[index];
    out.push(doc);
  });
  return true;
}

/** All non-empty documents' values, or null when js-yaml refuses the text (the slow path then explains why). */
function parseFast(text: string): unknown[] | null {
  try {
    const out: unknown[] = [];
    jsyaml.loadAll(
      text,
      (doc) => {
        if (doc !== null && doc !== undefined) out.push(doc);
      },
      { schema: jsyaml.CORE_SCHEMA },
    );
    return out;
  } catch {
    return null;
  }
}

function tooManyDocuments(
  file: string,
  p: PositionedFile,
  count: number,
  limits: DocumentLimits,
  diags: Diagnostic[],
): void {
  const first = p.documents[limits.maxDocumentsPerFile];
  const at = first ? p.lineCounter.linePos(first.doc.range?.[0] ?? 0) : { line: 1, col: 1 };
  diags.push(
    fileError(
      file,
      'too-many-documents',
      `file has ${count} YAML documents, over the limit of ${limits.maxDocumentsPerFile}; split it`,
      at.line,
      at.col,
    ),
  );
}

interface PositionedFile {
  lineCounter: LineCounter;
  /** Non-empty documents, numbered as the fast path numbers them; `value` is undefined when it had errors. */
  documents: { doc: Document; value: unknown }[];
  errors: Omit<Diagnostic, 'file'>[];
  locate(index: number, path: readonly PathSegment[], key: boolean): Position;
}

function parseWithPositions(text: string, limits: DocumentLimits): PositionedFile {
  const { LineCounter, parseAllDocuments, isScalar } = yaml();
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, stringKeys: true });
  const all = Array.isArray(parsed) ? parsed : [];
  const pos = (offset: number) => lineCounter.linePos(offset);
  const documents: PositionedFile['documents'] = [];
  const errors: PositionedFile['errors'] = [];
  for (const doc of all) {
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
    if (empty && doc.errors.length === 0) continue;
    const index = documents.length;
    let value: unknown;
    for (const e of doc.errors) {
      const p = pos(e.pos[0]);
      const duplicate = e.code === 'DUPLICATE_KEY';
      errors.push({
        severity: 'error',
        code: duplicate ? 'duplicate-key' : 'yaml-syntax',
        message: duplicate ? duplicateKeyMessage(keyTextAt(text, e.pos[0])) : `YAML: ${firstLine(e.message)}`,
        line: p.line,
        col: p.col,
        document: index,
        path: '',
      });
    }
    if (doc.errors.length === 0) {
      try {
        value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
      } catch (e) {
        const p = pos(doc.range[0]);
        const msg = String((e as Error).message);
        const alias = /alias/i.test(msg);
        errors.push({
          severity: 'error',
          code: alias ? 'yaml-alias-limit' : 'yaml-syntax',
          message: alias
            ? `YAML aliases expand to too many nodes (limit ${limits.maxAliasCount}); this looks like an alias bomb`
            : `YAML: ${firstLine(msg)}`,
          line: p.line,
          col: p.col,
          document: index,
          path: '',
        });
      }
    }
    documents.push({ doc, value });
  }
  return {
    lineCounter,
    documents,
    errors,
    locate: (index, path, key) => {
      const d = documents[index];
      return d
        ? locate(d.doc, text, lineCounter, path, key)
        : { line: 1, col: 1, endLine: 1, endCol: 1, quoted: false, raw: '' };
    },
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** The text of the mapping key that starts at `offset` (yaml reports a duplicate key by its first character only). */
function keyTextAt(text: string, offset: number): string {
  const end = text.indexOf('\n', offset);
  const line = text.slice(offset, end < 0 ? undefined : end);
  const m = line.match(/^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|.*?)\s*:(?:\s|$)/);
  return (m?.[1] ?? line).trim();
}

function duplicateKeyMessage(key: string): string {
  const name = key.replace(/:$/, '').replace(/^["']|["']$/g, '');
  return name && name.length <= 80
    ? `duplicate key "${name}": YAML would keep only one of them; remove or merge the other`
    : 'duplicate key in a mapping: YAML would keep only one of them; remove or merge the other';
}

function locate(doc: Document, text: string, lc: LineCounter, path: readonly PathSegment[], key: boolean): Position {
  const { isAlias, isMap, isPair, isScalar, isSeq } = yaml();
  let node: Node | null = doc.contents as Node | null;
  let keyNode: Node | null = null;
  for (const seg of path) {
    if (isAlias(node)) break;
    let next: Node | null = null;
    keyNode = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair) {
        next = pair.value as Node | null;
        keyNode = pair.key as Node;
        if (!next) next = keyNode;
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = (node.items[seg] as Node | undefined) ?? null;
    }
    if (!next) {
      keyNode = null;
      break;
    }
    node = next;
  }
  const target = key && keyNode ? keyNode : node;
  const range = target?.range ?? doc.range ?? [0, 0, 0];
  const a = lc.linePos(range[0]),
    b = lc.linePos(range[1]);
  const quoted = isScalar(target) && (target.type === 'QUOTE_DOUBLE' || target.type === 'QUOTE_SINGLE');
  return { line: a.line, col: a.col, endLine: b.line, endCol: b.col, quoted, raw: text.slice(range[0], range[1]) };
}

/** A diagnostic positioned at `path` in a document. */
export function diagnosticAt(
  doc: SourceDocument,
  path: readonly PathSegment[],
  severity: Diagnostic['severity'],
  code: string,
  message: string,
  opts: { key?: boolean } = {},
): Diagnostic {
  const p = doc.locate(path, opts);
  return {
    severity,
    code,
    message,
    file: doc.file,
    line: p.line,
    col: p.col,
    endLine: p.endLine,
    endCol: p.endCol,
    document: doc.index,
    path: formatPath([...(doc.pathPrefix ?? []), ...path]),
  };
}
