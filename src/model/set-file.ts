// The fast read of a large GlobalNetworkSet file: its `spec.nets` lists scanned line by line straight into packed nets.
import { NetList } from '../net/cidr.js';

/** The nets of one `spec.nets` list read by the scanner, in order; `hostBits` keeps the text of those with host bits. */
export interface ScannedNets {
  list: NetList;
  hostBits: { index: number; text: string }[];
}

/** The file with every scanned list replaced by a marker, and the lists the markers stand for. */
export interface ScannedSetFile {
  /** The rest of the file, for the YAML parser: each list is now `nets: [<marker><n>]` on its key's line. */
  rest: string;
  runs: ScannedNets[];
}

/** Files smaller than this always take the YAML parser: the scanner only pays off on big lists. */
export const SET_SCAN_MIN_BYTES = 64 * 1024;

/** Stands for list n in the rest of the file; files that contain it anyway are left to the YAML parser. */
export const RUN_MARKER = 'notrack-scanned-nets-';

const SPACE = 32,
  DASH = 45,
  HASH = 35;

/**
 * Recognises the common shape of a large set file by a strict line grammar: a `nets:` key line alone, then block
 * sequence items `- <scalar>` at one indentation, each a plain scalar of address characters or a quoted scalar
 * without escapes, with blank lines, comment lines and trailing comments between them. The list must end at EOF, a
 * document marker, or a line indented no deeper than the key that does not start another item. Returns null for
 * anything else (tabs, lone CRs, multi-line flow collections, a net that does not parse …): the whole file then
 * takes the YAML parser, which also gives the exact diagnostics.
 */
export function scanSetFile(text: string): ScannedSetFile | null {
  if (text.includes('\t') || text.includes(RUN_MARKER) || /\r(?!\n)/.test(text)) return null;
  const rest: string[] = [];
  const runs: ScannedNets[] = [];
  let pos = 0;
  while (pos < text.length) {
    const line = lineAt(text, pos);
    const key = /^( *)nets: *(?: #.*)?$/.exec(line.text);
    if (!key) {
      if (!flowBalanced(line.text)) return null;
      rest.push(line.text);
      pos = line.next;
      continue;
    }
    const run = scanRun(text, line.next, key[1]!.length);
    if (run === null) return null;
    if (run === 'none') {
      rest.push(line.text);
      pos = line.next;
      continue;
    }
    rest.push(`${key[1]}nets: [${RUN_MARKER}${runs.length}]`);
    runs.push(run.nets);
    pos = run.end;
  }
  return runs.length > 0 ? { rest: rest.join('\n'), runs } : null;
}

/** One line from `pos` without its line break (CRLF or LF), and where the next line starts. */
function lineAt(text: string, pos: number): { text: string; next: number } {
  let end = text.indexOf('\n', pos);
  const next = end < 0 ? text.length : end + 1;
  if (end < 0) end = text.length;
  if (end > pos && text.charCodeAt(end - 1) === 13) end--;
  return { text: text.slice(pos, end), next };
}

/** A line whose flow brackets all close on it: a flow collection spanning lines could hold a `nets:` line. */
function flowBalanced(line: string): boolean {
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
  }
  return depth === 0;
}

/**
 * The items after a `nets:` key at indentation `keyIndent`, from `pos`: the nets and where the list ends, 'none' when
 * no item follows (not a list this scanner reads, the line is kept as it is), null when the file is not in the grammar.
 */
function scanRun(text: string, pos: number, keyIndent: number): { nets: ScannedNets; end: number } | 'none' | null {
  const nets: ScannedNets = { list: new NetList(), hostBits: [] };
  let itemIndent = -1;
  let end = pos;
  while (pos < text.length) {
    // Offsets into the text, not a string per line: a set file has a line per net.
    let lineEnd = text.indexOf('\n', pos);
    const next = lineEnd < 0 ? text.length : lineEnd + 1;
    if (lineEnd < 0) lineEnd = text.length;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    let i = pos;
    while (i < lineEnd && text.charCodeAt(i) === SPACE) i++;
    const indent = i - pos;
    const first = text.charCodeAt(i);
    if (i === lineEnd || first === HASH) {
      // Blank and comment lines belong to no node; they may sit between items or after the list.
      pos = next;
      continue;
    }
    const scalar = first === DASH && text.charCodeAt(i + 1) === SPACE ? itemScalar(text, i + 2, lineEnd) : null;
    if (scalar !== null && indent >= keyIndent && (itemIndent < 0 || indent === itemIndent)) {
      if (!nets.list.parse(scalar)) return null;
      const index = nets.list.length - 1;
      if (nets.list.hostBitsSet(index)) nets.hostBits.push({ index, text: scalar });
      itemIndent = indent;
      pos = end = next;
      continue;
    }
    if (itemIndent < 0) return 'none';
    if (isDocumentMarker(text.slice(pos, lineEnd)) || (indent <= keyIndent && first !== DASH)) return { nets, end };
    return null;
  }
  return itemIndent < 0 ? 'none' : { nets, end: Math.max(end, pos) };
}

function isDocumentMarker(line: string): boolean {
  return /^(?:---|\.\.\.)(?: |$)/.test(line);
}

/**
 * The scalar of an item line, text[from, end): a plain run of address characters (not ending in ':', which would
 * make it a mapping key), or a quoted scalar without escapes; then only spaces and a comment. Null otherwise.
 */
function itemScalar(text: string, from: number, end: number): string | null {
  let i = from;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  const start = i;
  const q = text.charCodeAt(i);
  let value: string;
  if (q === 34 || q === 39) {
    const close = text.indexOf(q === 34 ? '"' : "'", i + 1);
    if (close < 0 || close >= end) return null;
    value = text.slice(i + 1, close);
    if (q === 34 && value.includes('\\')) return null;
    i = close + 1;
    if (q === 39 && text.charCodeAt(i) === 39) return null; // '' is an escaped quote
  } else {
    while (i < end && isAddressChar(text.charCodeAt(i))) i++;
    if (i === start || text.charCodeAt(i - 1) === 58 /* : */) return null;
    value = text.slice(start, i);
  }
  // Then spaces, and a comment only after at least one of them.
  const afterValue = i;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  return i === end || (i > afterValue && text.charCodeAt(i) === HASH) ? value : null;
}

/** 0-9 a-f A-F . : / — every character of an IPv4 or IPv6 CIDR, and none that means anything else to YAML. */
function isAddressChar(c: number): boolean {
  return (c >= 48 && c <= 58) /* 0-9 : */ || c === 46 || c === 47 || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Takes each scanned list's place in the parsed documents: a GlobalNetworkSet whose `spec.nets` is exactly one
 * marker gets an empty list and the scanned nets. False when a marker lands anywhere else, or twice (a `nets:` line
 * inside a block scalar, another kind …): the file then takes the YAML parser.
 */
export function claimRuns(values: unknown[], runs: readonly ScannedNets[]): (ScannedNets | undefined)[] | false {
  const claimed = new Set<number>();
  const out: (ScannedNets | undefined)[] = [];
  for (const v of values) {
    const doc = v as { apiVersion?: unknown; kind?: unknown; spec?: { nets?: unknown } } | null;
    const nets = doc && typeof doc === 'object' && typeof doc.spec === 'object' && doc.spec ? doc.spec.nets : undefined;
    const marker = Array.isArray(nets) && nets.length === 1 && typeof nets[0] === 'string' ? nets[0] : '';
    if (!marker.startsWith(RUN_MARKER)) {
      out.push(undefined);
      continue;
    }
    const n = Number(marker.slice(RUN_MARKER.length));
    if (doc!.kind !== 'GlobalNetworkSet' || doc!.apiVersion !== 'projectcalico.org/v3' || claimed.has(n) || !runs[n])
      return false;
    claimed.add(n);
    doc!.spec!.nets = [];
    out.push(runs[n]);
  }
  return claimed.size === runs.length ? out : false;
}
