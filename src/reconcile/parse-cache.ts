// Parsed policy files kept on disk by Git blob id: an apply after a one-file change inflates and parses that file
// only; every other file's documents (and a set file's scanned nets, packed) are read back from here.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
// Types only: the parser is loaded when a commit must be parsed (prepare() is handed it), never by a no-op apply.
import type { parseDocuments, ParseCache, PolicyFile, SourceDocument } from '../model/documents.js';
import type { ScannedNets } from '../model/set-file.js';
import { NetList } from '../net/cidr.js';
import { gitObjectId } from '../source/object-id.js';
import { isYamlFile } from '../source/snapshot.js';
import type { PolicyBlob, SourceFile } from '../source/index.js';
import { writeAtomic } from './applied-record.js';
import { schemasDigest } from '../model/schema-digest.js';
import { COMPILER_TAG } from './source-digest.js';

/**
 * An entry, `<oid>.parsed`: this magic and the SHA-256 of everything after its line; a JSON line (the blob id, the
 * file's size, its documents' values, each scanned list's sizes); then each scanned list's packed nets (address
 * bytes, lengths, flags: NetList.flat()). A document that passed loadResources' checks of one document (kind, apiVersion,
 * schema) with no diagnostic carries its `kind`: the next load of the blob skips those checks (version 2; version 1
 * entries had no such mark and are parsed again once). The file's text is kept beside it as `<oid>.yaml`, read only when a
 * diagnostic needs a position, and checked against the blob id (the SHA-1 Git names it by) first.
 */
const MAGIC = 'NTPARSED2 ';
/** Most entries kept: the files of one commit (entries of blobs the commit no longer holds are removed). */
const MAX_ENTRIES = 10_000;

interface EntryHead {
  /**
   * entryTag() of the notrack that parsed it: a notrack whose parser or compiler (COMPILER_TAG) or whose schema files
   * differ parses again and checks again (a mark says "passed these schemas").
   */
  tag: string;
  oid: string;
  size: number;
  documents: {
    index: number;
    value: unknown;
    nets?: number;
    hostBits?: ScannedNets['hostBits'];
    /** The kind the document validated clean as (SourceDocument.validKind). */
    kind?: string;
  }[];
  lists: { count: number; addrBytes: number }[];
}

/** The cache's folder inside a host's state folder. */
export const parseCacheFolder = (stateDir: string): string => path.join(stateDir, 'parsed');

/** Removes the cache (notrack remove). */
export function removeParseCache(stateDir: string): void {
  rmSync(parseCacheFolder(stateDir), { recursive: true, force: true });
}

/** What an entry must carry to be used: this notrack's COMPILER_TAG and its schema files' digest. */
export const entryTag = (): string => `${COMPILER_TAG} schemas ${schemasDigest()}`;

const NO_POSITION = { line: 1, col: 1, endLine: 1, endCol: 1, quoted: false, raw: '' };

/** Thrown by jsonExactly's replacer: a number JSON would change. */
const INEXACT = new Error('a number JSON cannot carry');

/**
 * The JSON of parsed values, or null when reading it back would not give the same values: YAML's .inf and .nan (and
 * floats too large for a double) have no JSON form and -0 reads back as 0; a YAML 1.1 file read by the `yaml`
 * library may hold a Date, a Set, a Map or bytes, which JSON turns into a string or `{}` (so a value the schema
 * refuses would read back as, or be taken for, one it accepts). Such a file is parsed every time.
 */
function jsonExactly(value: unknown): string | null {
  try {
    return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
      // The value as parsed (`v` is what its toJSON made of it).
      const o = this[key];
      if (typeof o === 'number') {
        if (!Number.isFinite(o) || Object.is(o, -0)) throw INEXACT;
      } else if (typeof o === 'object' && o !== null) {
        const proto = Object.getPrototypeOf(o) as unknown;
        if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) throw INEXACT;
      } else if (typeof o !== 'string' && typeof o !== 'boolean' && o !== null) throw INEXACT;
      return v;
    });
  } catch (e) {
    if (e === INEXACT) return null;
    throw e;
  }
}

export class PersistedParseCache {
  /** What loadResources reads parsed files from: cached files and the ones prepare() parsed. */
  readonly parsed: ParseCache = new WeakMap();
  /** The files built from entries (not parsed in this process). */
  private readonly fromCache = new WeakSet<PolicyFile>();
  /** How many files were parsed here, and how many were read back (for tests and the apply's message). */
  readonly counts = { parsed: 0, cached: 0 };

  /** The parser, once prepare() was given it (a position asked for before that falls back to the first line). */
  private parse: typeof parseDocuments | null = null;

  constructor(private readonly dir: string) {}

  private entryFile(oid: string): string {
    return path.join(this.dir, `${oid}.parsed`);
  }

  private textFile(oid: string): string {
    return path.join(this.dir, `${oid}.yaml`);
  }

  /**
   * The source's `knownFile` hook: a file whose blob has a sound entry is not inflated. It comes back with no
   * content, and its documents wait in `parsed`. Undefined (the source reads the blob) when there is no entry or it
   * fails its checks.
   */
  readonly known = (blob: PolicyBlob): SourceFile | undefined => {
    // Policy files only: the source reads the ignore file's content itself (a blob alike to a cached YAML file's must
    // not come back empty there).
    if (!/^[0-9a-f]{40}$/.test(blob.oid) || !isYamlFile(blob.path)) return undefined;
    const entry = this.readEntry(blob.oid);
    if (!entry) return undefined;
    const file: SourceFile = { path: blob.path, content: new Uint8Array(0), size: entry.head.size };
    const documents = entry.head.documents.map((d): SourceDocument => {
      const doc: SourceDocument = {
        file: blob.path,
        index: d.index,
        value: d.value,
        locate: (at, opts) => this.positions(blob, d.index)?.locate(at, opts) ?? NO_POSITION,
      };
      if (d.nets !== undefined) doc.scannedNets = { list: entry.lists[d.nets]!, hostBits: d.hostBits ?? [] };
      if (typeof d.kind === 'string') doc.validKind = d.kind;
      return doc;
    });
    this.parsed.set(file, { documents, diagnostics: [] });
    this.fromCache.add(file);
    this.counts.cached++;
    return file;
  };

  /** An entry, checked: magic, checksum, the blob id it names, its lists' sizes; null when any check fails. */
  private readEntry(oid: string): { head: EntryHead; lists: NetList[] } | null {
    const read = this.readHead(oid);
    if (!read) return null;
    const { head, body, headEnd } = read;
    try {
      const lists: NetList[] = [];
      let at = headEnd + 1;
      for (const { count, addrBytes } of head.lists) {
        const take = (n: number) => new Uint8Array(body.buffer, body.byteOffset + (at += n) - n, n);
        if (at + addrBytes + 2 * count > body.length) return null;
        const list = NetList.fromFlat({ addrs: take(addrBytes), prefix: take(count), flags: take(count) });
        if (!list) return null;
        lists.push(list);
      }
      if (at !== body.length || head.documents.some((d) => d.nets !== undefined && !lists[d.nets])) return null;
      return { head, lists };
    } catch {
      return null;
    }
  }

  /** An entry's head, checked (magic, checksum of the whole entry, tag, blob id), without its lists. */
  private readHead(oid: string): { head: EntryHead; body: Buffer; headEnd: number } | null {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.entryFile(oid));
    } catch {
      return null;
    }
    const eol = bytes.indexOf(10);
    const first = eol < 0 ? '' : bytes.toString('latin1', 0, eol);
    const body = bytes.subarray(eol + 1);
    if (first !== `${MAGIC}${createHash('sha256').update(body).digest('hex')}`) return null;
    try {
      const headEnd = body.indexOf(10);
      const head = JSON.parse(body.toString('utf8', 0, headEnd)) as EntryHead;
      if (head.tag !== entryTag() || head.oid !== oid || !Array.isArray(head.documents) || !Array.isArray(head.lists))
        return null;
      return { head, body, headEnd };
    } catch {
      return null;
    }
  }

  /** A cached file's documents parsed again from its kept text, with positions; null when the text is gone or
   *  is not the blob's (then a diagnostic points at the file's first line). */
  private readonly texts = new Map<string, SourceDocument[] | null>();
  private positions(blob: PolicyBlob, index: number): SourceDocument | null {
    let docs = this.texts.get(blob.oid);
    if (docs === undefined) {
      docs = null;
      try {
        const content = readFileSync(this.textFile(blob.oid));
        if (this.parse && gitObjectId('blob', content) === blob.oid)
          docs = this.parse([{ path: blob.path, content, size: content.length }]).documents;
      } catch {
        /* no text: positions fall back to the first line */
      }
      this.texts.set(blob.oid, docs);
    }
    return docs?.find((d) => d.index === index) ?? null;
  }

  /** Files prepare() parsed, waiting for keep() to write their entries with what loadResources found. */
  private toKeep: { oid: string; file: SourceFile; documents: readonly SourceDocument[] }[] = [];
  /** Entries of this commit's blobs already there (the bound counts them). */
  private kept = 0;

  /**
   * Parses the files the cache did not have (into `parsed`), notes those that parsed without a diagnostic (keep()
   * writes them), and removes the entries of blobs this commit does not hold. `blobs`: the commit's files by path
   * and blob id.
   */
  prepare(parse: typeof parseDocuments, files: readonly SourceFile[], blobs: readonly PolicyBlob[]): void {
    this.parse = parse;
    const fresh = files.filter((f) => !this.fromCache.has(f));
    parse(fresh, undefined, this.parsed);
    this.counts.parsed += fresh.length;
    const oidOf = new Map(blobs.map((b) => [b.path, b.oid]));
    this.kept = blobs.length - fresh.length;
    this.markUnchangedValues(fresh, new Set(blobs.map((b) => b.oid)));
    for (const f of fresh) {
      const oid = oidOf.get(f.path);
      const parsed = this.parsed.get(f);
      if (!oid || !parsed || parsed.diagnostics.length || f.tooLarge) continue;
      this.toKeep.push({ oid, file: f, documents: parsed.documents });
    }
    this.prune(new Set(blobs.map((b) => b.oid)));
  }

  /**
   * Marks the new files' documents whose value is exactly that of a document marked in an entry of a blob this commit
   * no longer holds (read before prune() removes them). The checks of one document read its value alone, and a
   * scanned set file's nets are not in its value: a set file whose nets alone changed (the one-prefix commit) needs
   * no schema check, and its schema validator is then never compiled. Values are compared by the SHA-256 of their
   * exact JSON (a value JSON would change, -0 or NaN, is never marked).
   */
  private markUnchangedValues(fresh: readonly SourceFile[], keep: ReadonlySet<string>): void {
    if (!fresh.length) return;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    const valueKey = (value: unknown): string | null => {
      const json = jsonExactly(value);
      return json === null ? null : createHash('sha256').update(json).digest('hex');
    };
    const kinds = new Map<string, string>();
    for (const name of names) {
      const oid = /^([0-9a-f]{40})\.parsed$/.exec(name)?.[1];
      if (oid === undefined || keep.has(oid)) continue;
      for (const d of this.readHead(oid)?.head.documents ?? []) {
        const key = typeof d.kind === 'string' ? valueKey(d.value) : null;
        if (key !== null) kinds.set(key, d.kind!);
      }
    }
    if (!kinds.size) return;
    for (const f of fresh) {
      for (const doc of this.parsed.get(f)?.documents ?? []) {
        const key = valueKey(doc.value);
        const kind = key === null ? undefined : kinds.get(key);
        if (kind !== undefined) doc.validKind = kind;
      }
    }
  }

  /**
   * Writes the entries of the files prepare() parsed, after loadResources ran over them (valid or not): each document
   * that `validKinds` names is marked with its kind, so the next load of the same blob skips its checks of one
   * document. A document with any diagnostic is never marked.
   */
  keep(validKinds: ReadonlyMap<SourceDocument, string>): void {
    for (const { oid, file, documents } of this.toKeep.splice(0)) {
      if (this.kept >= MAX_ENTRIES) break;
      try {
        if (this.writeEntry(oid, file, documents, validKinds)) this.kept++;
      } catch {
        // A full disk or a read-only state folder only costs the next apply a parse.
      }
    }
  }

  /** Writes an entry and the text beside it; false when the documents hold a value JSON cannot carry. */
  private writeEntry(
    oid: string,
    f: SourceFile,
    documents: readonly SourceDocument[],
    validKinds: ReadonlyMap<SourceDocument, string>,
  ): boolean {
    const lists: NetList[] = [];
    const head: EntryHead = { tag: entryTag(), oid, size: f.size, documents: [], lists: [] };
    for (const d of documents) {
      const entry: EntryHead['documents'][number] = { index: d.index, value: d.value };
      if (d.scannedNets) {
        entry.nets = lists.push(d.scannedNets.list) - 1;
        if (d.scannedNets.hostBits.length) entry.hostBits = d.scannedNets.hostBits;
      }
      const kind = validKinds.get(d);
      if (kind !== undefined) entry.kind = kind;
      head.documents.push(entry);
    }
    const flats = lists.map((l) => l.flat());
    head.lists = flats.map((f) => ({ count: f.prefix.length, addrBytes: f.addrs.length }));
    const json = jsonExactly(head);
    if (json === null) return false;
    const body = Buffer.concat([Buffer.from(`${json}\n`), ...flats.flatMap((f) => [f.addrs, f.prefix, f.flags])]);
    // Not fsynced: an entry a power loss tore fails its checksum (a text, its blob id) and is parsed again.
    writeAtomic(this.textFile(oid), f.content, { durable: false });
    writeAtomic(
      this.entryFile(oid),
      Buffer.concat([Buffer.from(`${MAGIC}${createHash('sha256').update(body).digest('hex')}\n`, 'latin1'), body]),
      { durable: false },
    );
    return true;
  }

  /** Removes entries (and texts) of blobs not in `keep`, and temporary files a killed write left. */
  private prune(keep: ReadonlySet<string>): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const oid = /^([0-9a-f]{40})\.(parsed|yaml)$/.exec(name)?.[1];
      if (oid === undefined || !keep.has(oid)) rmSync(path.join(this.dir, name), { force: true });
    }
  }
}
