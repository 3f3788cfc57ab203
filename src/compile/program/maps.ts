// The maps a policy program reads, per family: their specs (names as the program's relocations use them) and their
// contents as plain buffers, ready for batch updates.
import type { IpFamily } from '../../net/cidr.js';
import { MapFlag, MapType } from '../../abi/bpf-uapi.js';
import type { Classifier, FieldName } from './classifier.js';
import { TABLE_WORDS } from './entry-placement.js';
import { STRIDE_BITMAP_BYTES, STRIDE_GROUP_BYTES, STRIDE_WIDE_BYTES } from './ipv4-stride.js';
import { LENGTH_KEY_BYTES } from './ipv6-lengths.js';
import { SCAN_BYTES, SCAN_MAP_NAME } from './frame.js';
import { PolicyProgramError } from './limits.js';

/**
 * The bitmap groups and wide bitmaps of an IPv4 address field's table (ipv4-stride.ts), beside its 1 KiB groups; the
 * miss filter of an IPv6 address field's hash (ipv6-lengths.ts).
 */
export type BitmapRole = 'saddrBitmap' | 'daddrBitmap' | 'saddrWide' | 'daddrWide' | 'saddrFilter' | 'daddrFilter';

/** What a map holds: the class records, the entry table, one field's class table, or its bitmap groups. */
type PolicyMapRole = 'records' | 'entries' | 'scan' | FieldName | BitmapRole;

/** The role of an address field's bitmap groups or wide bitmaps. */
export const bitmapRole = (field: 'saddr' | 'daddr', kind: 'Bitmap' | 'Wide' | 'Filter'): BitmapRole =>
  `${field}${kind}`;

const BITMAP_MAPS = [
  { kind: 'Bitmap', valueSize: STRIDE_BITMAP_BYTES, count: 'bitmapCount', values: 'bitmaps' },
  { kind: 'Wide', valueSize: STRIDE_WIDE_BYTES, count: 'wideCount', values: 'wide' },
] as const;

export interface PolicyMapSpec {
  /** The kernel name and the relocation name in the program (at most 15 characters). */
  readonly name: string;
  readonly family: IpFamily;
  readonly role: PolicyMapRole;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
}

/**
 * Contents of an array map (keys 0..count-1), or of a keyed map: an LPM trie, or a hash (the IPv6 address table,
 * ipv6-lengths.ts); both are `count` keys of `keySize` bytes and `count` u32 values.
 */
export type PolicyMapContents =
  | { readonly kind: 'array'; readonly count: number; readonly valueSize: number; readonly values: Buffer }
  | {
      readonly kind: 'lpm' | 'hash';
      readonly count: number;
      readonly keySize: number;
      readonly keys: Buffer;
      readonly values: Buffer;
    };

const ROLE_SUFFIX: Record<PolicyMapRole, string> = {
  records: 'rec',
  entries: 'ent',
  scan: 'scan',
  proto: 'proto',
  dport: 'dport',
  sport: 'sport',
  icmp: 'icmp',
  daddr: 'dst',
  saddr: 'src',
  daddrBitmap: 'dstb',
  saddrBitmap: 'srcb',
  daddrWide: 'dstw',
  saddrWide: 'srcw',
  daddrFilter: 'dstf',
  saddrFilter: 'srcf',
};

export function policyMapName(family: IpFamily, role: PolicyMapRole): string {
  return `ntp${family}_${ROLE_SUFFIX[role]}`;
}

/**
 * The entry table is one array element: a 64-byte table for find-first-set (De Bruijn), then one 16-byte slot per bit
 * (entry-placement.ts: entry word, original index, Log limit, continue word). One lookup per packet gives the program
 * a pointer it indexes by bit position.
 */
export const DEBRUIJN_MULTIPLIER = 0x03f79d71b4cb0a89n;
export const DEBRUIJN_SHIFT = 58;
export const ENTRY_TABLE_HEADER = 64;
export const ENTRY_TABLE_SLOT_BYTES = TABLE_WORDS * 4;
/** An array value must fit one kmalloc (4 MiB): about 260,000 bit positions per family. */
const ENTRY_TABLE_MAX_BYTES = 4 << 20;

/** table[(lowbit * multiplier) >> 58] = bit index, for each of the 64 one-bit values. */
function debruijnTable(): Buffer {
  const table = Buffer.alloc(64);
  const seen = new Set<number>();
  for (let i = 0; i < 64; i++) {
    const idx = Number((((1n << BigInt(i)) * DEBRUIJN_MULTIPLIER) & 0xffffffffffffffffn) >> BigInt(DEBRUIJN_SHIFT));
    if (seen.has(idx)) throw new Error('debruijn: the multiplier is not a De Bruijn sequence');
    seen.add(idx);
    table[idx] = i;
  }
  return table;
}

function entryTableBytes(c: Classifier): number {
  const bytes = ENTRY_TABLE_HEADER + ENTRY_TABLE_SLOT_BYTES * c.placement.bits;
  if (bytes > ENTRY_TABLE_MAX_BYTES) {
    throw new PolicyProgramError(
      'policy-program-too-large',
      `IPv${c.family}: ${c.entryCount} entries need an entry table of ${bytes} bytes; at most ${ENTRY_TABLE_MAX_BYTES} fit one map value`,
    );
  }
  return bytes;
}

/** The per-CPU scan state every policy program has (frame.ts). */
export function scanMapSpec(): PolicyMapSpec {
  return {
    name: SCAN_MAP_NAME,
    family: 4,
    role: 'scan',
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: SCAN_BYTES,
    maxEntries: 1,
    flags: 0,
  };
}

/** The maps of one family's classifier (none when the family has no entries). */
export function policyMaps(c: Classifier): PolicyMapSpec[] {
  if (c.entryCount === 0) return [];
  const family = c.family;
  const specs: PolicyMapSpec[] = [
    {
      name: policyMapName(family, 'records'),
      family,
      role: 'records',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: c.shape.recordBytes,
      maxEntries: c.records.count,
      flags: 0,
    },
    {
      name: policyMapName(family, 'entries'),
      family,
      role: 'entries',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: entryTableBytes(c),
      maxEntries: 1,
      flags: 0,
    },
  ];
  for (const f of c.fields) {
    const name = policyMapName(family, f.name);
    const m = f.map;
    if (m.kind === 'lpm') {
      specs.push({
        name,
        family,
        role: f.name,
        type: MapType.LPM_TRIE,
        keySize: m.keySize,
        valueSize: 4,
        maxEntries: Math.max(1, m.count),
        flags: MapFlag.NO_PREALLOC,
      });
    } else if (m.kind === 'lengths') {
      // Preallocated: the elements sit in one pool, and a lookup takes no lock and allocates nothing.
      specs.push({
        name,
        family,
        role: f.name,
        type: MapType.HASH,
        keySize: LENGTH_KEY_BYTES,
        valueSize: 4,
        maxEntries: Math.max(1, m.count),
        flags: 0,
      });
      if (f.name === 'saddr' || f.name === 'daddr') {
        specs.push({
          name: policyMapName(family, bitmapRole(f.name, 'Filter')),
          family,
          role: bitmapRole(f.name, 'Filter'),
          type: MapType.ARRAY,
          keySize: 4,
          valueSize: m.filter.byteLength,
          maxEntries: 1,
          flags: 0,
        });
      }
    } else {
      // An array indexed directly: the DIR-16-8-8 table's groups, or one class value per value of a scalar field.
      const stride = m.kind === 'stride';
      specs.push({
        name,
        family,
        role: f.name,
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: stride ? STRIDE_GROUP_BYTES : 4,
        maxEntries: stride ? m.elements : m.values.length,
        flags: 0,
      });
      for (const b of BITMAP_MAPS) {
        if (m.kind !== 'stride' || m[b.count] === 0 || (f.name !== 'saddr' && f.name !== 'daddr')) continue;
        const role = bitmapRole(f.name, b.kind);
        specs.push({
          name: policyMapName(family, role),
          family,
          role,
          type: MapType.ARRAY,
          keySize: 4,
          valueSize: b.valueSize,
          maxEntries: m[b.count],
          flags: 0,
        });
      }
    }
  }
  return specs;
}

/** What to write into one of the family's maps. */
export function policyMapContents(c: Classifier, role: PolicyMapRole): PolicyMapContents {
  if (role === 'records') {
    return { kind: 'array', count: c.records.count, valueSize: c.shape.recordBytes, values: c.records.bytes };
  }
  if (role === 'scan') return { kind: 'array', count: 0, valueSize: SCAN_BYTES, values: Buffer.alloc(0) };
  if (role === 'entries') {
    const size = entryTableBytes(c);
    const value = Buffer.alloc(size);
    debruijnTable().copy(value, 0);
    const t = c.placement.table;
    Buffer.from(t.buffer, t.byteOffset, Math.min(t.byteLength, size - ENTRY_TABLE_HEADER)).copy(
      value,
      ENTRY_TABLE_HEADER,
    );
    return { kind: 'array', count: 1, valueSize: size, values: value };
  }
  for (const b of BITMAP_MAPS) {
    const m = c.fields.find((x) => `${x.name}${b.kind}` === role)?.map;
    if (m?.kind !== 'stride') continue;
    const words = m[b.values];
    const values = Buffer.from(words.buffer, words.byteOffset, m[b.count] * b.valueSize);
    return { kind: 'array', count: m[b.count], valueSize: b.valueSize, values };
  }
  const filtered = c.fields.find((x) => `${x.name}Filter` === role)?.map;
  if (filtered?.kind === 'lengths') {
    const values = Buffer.from(filtered.filter.buffer, filtered.filter.byteOffset, filtered.filter.byteLength);
    return { kind: 'array', count: 1, valueSize: values.length, values };
  }
  const f = c.fields.find((x) => x.name === role);
  if (!f) throw new Error(`policy maps: family ${c.family} does not use field ${role}`);
  const m = f.map;
  if (m.kind === 'stride') {
    const values = Buffer.from(m.slots.buffer, m.slots.byteOffset, m.elements * STRIDE_GROUP_BYTES);
    return { kind: 'array', count: m.elements, valueSize: STRIDE_GROUP_BYTES, values };
  }
  const values = Buffer.from(m.values.buffer, m.values.byteOffset, m.values.byteLength);
  if (m.kind === 'lpm') return { kind: 'lpm', count: m.count, keySize: m.keySize, keys: m.keys, values };
  if (m.kind === 'lengths') return { kind: 'hash', count: m.count, keySize: LENGTH_KEY_BYTES, keys: m.keys, values };
  return { kind: 'array', count: m.values.length, valueSize: 4, values };
}
