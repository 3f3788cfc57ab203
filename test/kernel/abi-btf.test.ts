// The compiled BPF objects and src/abi/notrack.ts agree: structs, enums, maps, programs and config, read
// from the objects' BTF; and the objects pass the kernel verifier the way libbpf 1.1 loads them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import {
  BPF_OBJECTS,
  C_ENUMS,
  CONFIG_MAP,
  Counter,
  FAILSAFE_VALUE,
  JumpSlot,
  MAPS,
  PROGRAM_OBJECT,
  PROGRAMS,
  RULE_NONE,
  STATE_FIELDS,
  STRUCTS,
  decodeLogEvent,
  decodeState,
  encodeConfig,
  encodeFailsafeKey,
  encodeFailsafePorts,
  sumPerCpuCounter,
  type BpfObjectName,
  type ObjectMapSpec,
} from '../../src/abi/notrack.js';
import { pinDir, run } from '../support/netns.js';
import { buildFrame } from '../support/packets.js';
import { kernelGate } from '../support/kernel-gate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
}
interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: BtfMember[];
  values?: { name: string; val: string }[];
  vars?: { type_id: number; offset: number; size: number }[];
}

function toolMissing(): string | null {
  if (spawnSync('clang', ['--version']).status !== 0) return 'clang is not installed';
  if (spawnSync('bpftool', ['version']).status !== 0) return 'bpftool is not installed';
  return null;
}

/** One object's BTF, indexed by id and by (kind, name). */
class Btf {
  private readonly byId = new Map<number, BtfType>();
  constructor(
    readonly object: string,
    types: BtfType[],
  ) {
    for (const t of types) this.byId.set(t.id, t);
  }

  static load(object: BpfObjectName): Btf {
    const file = path.join(root, BPF_OBJECTS[object]);
    const r = run(['bpftool', 'btf', 'dump', 'file', file, 'format', 'raw', '-j']);
    // Enumerator values can be 64-bit (an unsigned 0xffffffff prints as 2^64 - 1): keep them exact as strings.
    const json = JSON.parse(r.stdout.replace(/"val":\s*(-?\d+)/g, '"val":"$1"')) as { types: BtfType[] };
    return new Btf(object, json.types);
  }

  get(id: number): BtfType {
    const t = this.byId.get(id);
    if (!t) throw new Error(`${this.object}: no BTF type ${id}`);
    return t;
  }

  find(kind: string, name: string): BtfType | undefined {
    return [...this.byId.values()].find((t) => t.kind === kind && t.name === name);
  }

  all(kind: string): BtfType[] {
    return [...this.byId.values()].filter((t) => t.kind === kind);
  }

  /** Follows typedefs and qualifiers. */
  resolve(id: number): BtfType {
    let t = this.get(id);
    while (['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = this.get(t.type_id!);
    return t;
  }

  sizeOf(id: number): number {
    const t = this.resolve(id);
    if (t.kind === 'PTR') return 8;
    if (t.kind === 'ARRAY') return t.nr_elems! * this.sizeOf(t.type_id!);
    if (t.size === undefined) throw new Error(`${this.object}: type ${t.id} (${t.kind}) has no size`);
    return t.size;
  }
}

/** A map definition of `.maps`: libbpf's __uint(name, n) is a pointer to int[n]; __type(name, T) a pointer to T. */
function mapDefinition(btf: Btf, varTypeId: number): ObjectMapSpec & { extra: string[] } {
  const def = btf.resolve(varTypeId);
  const out = {
    name: '',
    object: btf.object as BpfObjectName,
    type: -1,
    keySize: 0,
    valueSize: 0,
    maxEntries: -1,
    flags: 0,
    extra: [] as string[],
  };
  for (const m of def.members ?? []) {
    const t = btf.resolve(m.type_id);
    const uint = () => btf.resolve(t.type_id!).nr_elems!;
    switch (m.name) {
      case 'type':
        out.type = uint();
        break;
      case 'max_entries':
        out.maxEntries = uint();
        break;
      case 'map_flags':
        out.flags = uint();
        break;
      case 'key_size':
        out.keySize = uint();
        break;
      case 'value_size':
        out.valueSize = uint();
        break;
      case 'key':
        out.keySize = btf.sizeOf(t.type_id!);
        break;
      case 'value':
        out.valueSize = btf.sizeOf(t.type_id!);
        break;
      case 'values':
        out.valueSize = 4;
        break; // a program array's initial programs: the value is a program fd
      default:
        out.extra.push(m.name);
    }
  }
  return out;
}

const missing = toolMissing();
let objects: Record<BpfObjectName, Btf> | undefined;

function btfOf(object: BpfObjectName): Btf {
  if (!objects) {
    // Builds missing or stale objects (an up-to-date build is a no-op).
    const b = spawnSync(process.execPath, [path.join(root, 'scripts/build-bpf.mjs')], { cwd: root, encoding: 'utf8' });
    assert.is(b.status, 0, `scripts/build-bpf.mjs failed:\n${b.stderr}`);
    objects = { xdp: Btf.load('xdp'), tc: Btf.load('tc') };
  }
  return objects[object];
}

if (missing) {
  console.log(`abi-btf: skipped: ${missing}`);
} else {
  test('every struct in notrack.ts has the size, members, offsets and member sizes of the compiled struct', () => {
    const wrong: string[] = [];
    for (const object of Object.keys(BPF_OBJECTS) as BpfObjectName[]) {
      const btf = btfOf(object);
      for (const s of Object.values(STRUCTS)) {
        const t = btf.find('STRUCT', s.name);
        if (!t) {
          wrong.push(`${object}: struct ${s.name} is not in the BTF`);
          continue;
        }
        if (t.size !== s.size)
          wrong.push(`${object}: sizeof(struct ${s.name}) is ${t.size}, notrack.ts says ${s.size}`);
        const compiled = (t.members ?? []).map((m) => ({
          name: m.name,
          offset: m.bits_offset / 8,
          size: btf.sizeOf(m.type_id),
        }));
        const fmt = (ms: readonly { name: string; offset: number; size: number }[]) =>
          ms.map((m) => `${m.name}@${m.offset}:${m.size}`).join(' ');
        if (fmt(compiled) !== fmt(s.members))
          wrong.push(`${object}: struct ${s.name}\n  compiled:  ${fmt(compiled)}\n  notrack.ts: ${fmt(s.members)}`);
      }
    }
    assert.equal(wrong, [], wrong.join('\n'));
  });

  test('the state offsets the policy program uses are the compiled offsets of nt_state', () => {
    const btf = btfOf('xdp');
    const offsetIn = (structName: string, memberName: string) => {
      const m = btf.find('STRUCT', structName)!.members!.find((x) => x.name === memberName);
      assert.ok(m, `struct ${structName} has ${memberName}`);
      return { offset: m!.bits_offset / 8, size: btf.sizeOf(m!.type_id) };
    };
    const pkt = offsetIn('nt_state', 'pkt').offset;
    const cName: Record<string, string> = {
      icmpType: 'icmp_type',
      icmpCode: 'icmp_code',
      ipProto: 'ip_proto',
      l3Off: 'l3_off',
      l4Off: 'l4_off',
      ruleId: 'rule_id',
      logCount: 'log_count',
      logRules: 'log_rules',
      pktLen: 'pkt_len',
    };
    const inPacket = new Set([
      'saddr',
      'daddr',
      'sport',
      'dport',
      'icmpType',
      'icmpCode',
      'ipProto',
      'family',
      'flags',
      'l3Off',
      'l4Off',
    ]);
    for (const [field, where] of Object.entries(STATE_FIELDS)) {
      const c = cName[field] ?? field;
      const got = inPacket.has(field)
        ? { offset: pkt + offsetIn('nt_packet', c).offset, size: offsetIn('nt_packet', c).size }
        : offsetIn('nt_state', c);
      assert.equal(where, got, `state field ${field}`);
    }
  });

  test('every enum in notrack.ts has exactly the enumerators and values of the compiled enum', () => {
    const wrong: string[] = [];
    for (const object of Object.keys(BPF_OBJECTS) as BpfObjectName[]) {
      const btf = btfOf(object);
      for (const [name, expected] of Object.entries(C_ENUMS)) {
        const t = btf.find('ENUM', name);
        if (!t) {
          wrong.push(`${object}: enum ${name} is not in the BTF`);
          continue;
        }
        const compiled: Record<string, number> = {};
        for (const v of t.values ?? []) compiled[v.name] = Number(BigInt.asUintN(8 * t.size!, BigInt(v.val)));
        for (const k of new Set([...Object.keys(compiled), ...Object.keys(expected)])) {
          if (compiled[k] !== expected[k])
            wrong.push(`${object}: enum ${name} ${k}: compiled ${compiled[k]}, notrack.ts ${expected[k]}`);
        }
      }
    }
    assert.equal(wrong, [], wrong.join('\n'));
  });

  test('every map in the objects is in notrack.ts with its type, key and value sizes, capacity and flags', () => {
    const wrong: string[] = [];
    for (const object of Object.keys(BPF_OBJECTS) as BpfObjectName[]) {
      const btf = btfOf(object);
      const sec = btf.find('DATASEC', '.maps');
      assert.ok(sec, `${object} has a .maps section`);
      const compiled = new Map<string, ObjectMapSpec & { extra: string[] }>();
      for (const v of sec!.vars ?? []) {
        const variable = btf.get(v.type_id);
        compiled.set(variable.name, { ...mapDefinition(btf, variable.type_id!), name: variable.name });
      }
      const listed = Object.values(MAPS).filter((m) => m.object === object);
      for (const m of listed) {
        const c = compiled.get(m.name);
        if (!c) {
          wrong.push(`${object}: map ${m.name} is not defined`);
          continue;
        }
        for (const k of ['type', 'keySize', 'valueSize', 'maxEntries', 'flags'] as const) {
          if (c[k] !== m[k]) wrong.push(`${object}: map ${m.name} ${k}: compiled ${c[k]}, notrack.ts ${m[k]}`);
        }
        if (c.extra.length)
          wrong.push(`${object}: map ${m.name} has fields notrack.ts does not know: ${c.extra.join(', ')}`);
      }
      for (const name of compiled.keys()) {
        if (!listed.some((m) => m.name === name)) wrong.push(`${object}: map ${name} is missing from notrack.ts MAPS`);
      }
    }
    assert.equal(wrong, [], wrong.join('\n'));
  });

  test('each object holds its programs and a config section of exactly struct nt_config', () => {
    for (const object of Object.keys(BPF_OBJECTS) as BpfObjectName[]) {
      const btf = btfOf(object);
      const funcs = btf
        .all('FUNC')
        .filter((f) => f.name.startsWith('nt_'))
        .map((f) => f.name)
        .sort();
      const expected = Object.entries(PROGRAMS)
        .filter(([k]) => PROGRAM_OBJECT[k as keyof typeof PROGRAMS] === object)
        .map(([, v]) => v)
        .sort();
      assert.equal(funcs, expected, `${object}: programs`);

      const sec = btf.find('DATASEC', CONFIG_MAP);
      assert.ok(sec, `${object}: has ${CONFIG_MAP}`);
      assert.is(sec!.vars!.length, 1, `${object}: ${CONFIG_MAP} holds one variable`);
      const v = sec!.vars![0]!;
      assert.is(btf.get(v.type_id).name, 'nt_config');
      assert.is(btf.resolve(btf.get(v.type_id).type_id!).name, 'nt_config');
      assert.is(v.size, STRUCTS.nt_config.size, 'the loader sets exactly sizeof(struct nt_config) bytes');
    }
  });

  test('the encoders and decoders of notrack.ts put each field at its compiled offset', () => {
    const btf = btfOf('xdp');
    const at = (structName: string, memberName: string): number => {
      const m = btf.find('STRUCT', structName)?.members?.find((x) => x.name === memberName);
      assert.ok(m, `struct ${structName} has ${memberName}`);
      return m!.bits_offset / 8;
    };

    const cfg = encodeConfig({ acceptMark: 0x11111111, acceptMask: 0x22222222, logRate: 33, logBurst: 44 });
    assert.is(cfg.length, btf.find('STRUCT', 'nt_config')!.size);
    assert.is(cfg.readUInt32LE(at('nt_config', 'accept_mark')), 0x11111111);
    assert.is(cfg.readUInt32LE(at('nt_config', 'accept_mask')), 0x22222222);
    assert.is(cfg.readUInt32LE(at('nt_config', 'log_rate')), 33);
    assert.is(cfg.readUInt32LE(at('nt_config', 'log_burst')), 44);

    const key = encodeFailsafeKey({ direction: 'out', proto: 17, port: 0x1234, net: '192.0.2.0/24' });
    assert.is(key.length, btf.find('STRUCT', 'nt_failsafe_key')!.size);
    assert.is(key.readUInt32LE(at('nt_failsafe_key', 'prefixlen')), 64 + 24);
    assert.is(key[at('nt_failsafe_key', 'family')], 4);
    assert.is(key[at('nt_failsafe_key', 'direction')], 1);
    assert.is(key[at('nt_failsafe_key', 'proto')], 17);
    assert.is(key.readUInt16BE(at('nt_failsafe_key', 'port')), 0x1234, 'port in network byte order');
    assert.is(
      key.subarray(at('nt_failsafe_key', 'addr'), at('nt_failsafe_key', 'addr') + 4).toString('hex'),
      'c0000200',
    );

    const ports = encodeFailsafePorts([
      { direction: 'in', proto: 6, port: 22 },
      { direction: 'out', proto: 17, port: 65535 },
    ]);
    assert.is(ports.length, btf.find('STRUCT', 'nt_failsafe_ports')!.size);
    assert.is(ports.readUInt32LE(at('nt_failsafe_ports', 'filled')), 1);
    assert.is(ports[at('nt_failsafe_ports', 'in') + 2], 1 << 6, 'port 22 is bit 6 of byte 2');
    assert.is(ports[at('nt_failsafe_ports', 'out') + 8191], 0x80);

    const state = Buffer.alloc(btf.find('STRUCT', 'nt_state')!.size!);
    const pkt = at('nt_state', 'pkt');
    state.set([10, 1, 2, 3], pkt + at('nt_packet', 'saddr'));
    state.writeUInt16LE(8080, pkt + at('nt_packet', 'dport'));
    state[pkt + at('nt_packet', 'family')] = 4;
    state.writeUInt32LE(RULE_NONE, at('nt_state', 'rule_id'));
    state.writeUInt32LE(2, at('nt_state', 'log_count'));
    state.writeUInt32LE(9, at('nt_state', 'log_rules') + 4);
    state.writeUInt32LE(1500, at('nt_state', 'pkt_len'));
    const st = decodeState(state);
    assert.equal(
      [st.packet.saddr, st.packet.dport, st.ruleId, st.logRules, st.pktLen],
      ['10.1.2.3', 8080, null, [0, 9], 1500],
    );

    const ev = Buffer.alloc(btf.find('STRUCT', 'nt_log_event')!.size!);
    const epkt = at('nt_log_event', 'pkt');
    ev.writeBigUInt64LE(123n, at('nt_log_event', 'ts_ns'));
    ev[epkt + at('nt_packet', 'family')] = 6;
    ev.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], epkt + at('nt_packet', 'daddr'));
    ev[epkt + at('nt_packet', 'icmp_type')] = 128;
    ev.writeUInt32LE(5, at('nt_log_event', 'rule_id'));
    ev.writeUInt32LE(7, at('nt_log_event', 'decided_by'));
    ev.writeUInt32LE(2, at('nt_log_event', 'verdict'));
    const e = decodeLogEvent(ev);
    assert.equal(
      [e.tsNs, e.packet.daddr, e.packet.icmpType, e.ruleId, e.decidedBy, e.verdict],
      [123n, 'fd00::2', 128, 5, 7, 'drop'],
    );
  });

  const gate = kernelGate('abi-btf: verifier', { tools: ['bpftool'] });
  if (gate.runs) {
    test('both objects pass the verifier, and loading xdp.o fills the epilogue slots of nt_jump', () => {
      btfOf('xdp');
      const pins = pinDir();
      try {
        for (const [object, type] of [
          ['xdp', 'xdp'],
          ['tc', 'tc'],
        ] as const) {
          const r = run(
            [
              'bpftool',
              'prog',
              'loadall',
              path.join(root, BPF_OBJECTS[object]),
              `${pins.path}/${object}`,
              'type',
              type,
              'pinmaps',
              `${pins.path}/${object}-maps`,
            ],
            { allowFail: true },
          );
          assert.is(r.status, 0, `${object}.o did not load:\n${r.stderr.slice(-3000)}`);
        }
        const dump = JSON.parse(
          run(['bpftool', 'map', 'dump', 'pinned', `${pins.path}/xdp-maps/${MAPS.jump.name}`, '-j']).stdout,
        ) as { key: string[] }[];
        const slots = dump.map((e) => parseInt(e.key[0]!, 16)).sort();
        assert.equal(slots, [JumpSlot.accept, JumpSlot.drop, JumpSlot.pass]);
      } finally {
        pins.cleanup();
      }
    });

    test('nt_xdp_entry finds failsafe entries written with encodeFailsafeKey and encodeFailsafePorts, by CIDR', () => {
      btfOf('xdp');
      const pins = pinDir();
      try {
        run([
          'bpftool',
          'prog',
          'loadall',
          path.join(root, BPF_OBJECTS.xdp),
          `${pins.path}/p`,
          'type',
          'xdp',
          'pinmaps',
          `${pins.path}/m`,
        ]);
        const bytes = (b: Buffer) => [...b].map(String);
        const entries = [
          { direction: 'in', proto: 6, port: 22, net: '10.0.0.0/8' },
          { direction: 'out', proto: 17, port: 53, net: 'fd00::53' },
        ] as const;
        for (const e of entries) {
          run([
            'bpftool',
            'map',
            'update',
            'pinned',
            `${pins.path}/m/${MAPS.failsafe.name}`,
            'key',
            ...bytes(encodeFailsafeKey(e)),
            'value',
            ...bytes(FAILSAFE_VALUE),
          ]);
        }
        run([
          'bpftool',
          'map',
          'update',
          'pinned',
          `${pins.path}/m/${MAPS.failsafePorts.name}`,
          'key',
          '0',
          '0',
          '0',
          '0',
          'value',
          ...bytes(encodeFailsafePorts(entries)),
        ]);
        const failsafePackets = () => {
          const j = JSON.parse(
            run([
              'bpftool',
              'map',
              'lookup',
              'pinned',
              `${pins.path}/m/${MAPS.counters.name}`,
              'key',
              String(Counter.failsafe),
              '0',
              '0',
              '0',
              '-j',
            ]).stdout,
          ) as { values: { value: string[] }[] };
          return sumPerCpuCounter(Buffer.concat(j.values.map((v) => Buffer.from(v.value.map((x) => parseInt(x, 16))))))
            .packets;
        };
        const cases: [string, Parameters<typeof buildFrame>[0], boolean][] = [
          [
            'ssh from inside 10/8',
            { family: 4, proto: 'tcp', src: '10.9.8.7', dst: '10.0.0.1', sport: 40000, dport: 22 },
            true,
          ],
          [
            'ssh from outside 10/8',
            { family: 4, proto: 'tcp', src: '11.0.0.1', dst: '10.0.0.1', sport: 40000, dport: 22 },
            false,
          ],
          [
            'udp to port 22',
            { family: 4, proto: 'udp', src: '10.9.8.7', dst: '10.0.0.1', sport: 40000, dport: 22 },
            false,
          ],
          [
            // The trie matches, but under BPF_PROG_TEST_RUN conntrack holds no connection of the host to fd00::53,
            // so the precise failsafe leaves the packet to the policy (test/fault/failsafe-replies.test.ts proves
            // the outbound entries with real replies).
            'DNS "reply" from fd00::53 that answers no connection',
            { family: 6, proto: 'udp', src: 'fd00::53', dst: 'fd00::1', sport: 53, dport: 40000 },
            false,
          ],
          [
            'DNS reply from fd00::54',
            { family: 6, proto: 'udp', src: 'fd00::54', dst: 'fd00::1', sport: 53, dport: 40000 },
            false,
          ],
        ];
        const frameFile = `${pins.path}.frame`;
        try {
          for (const [label, spec, hit] of cases) {
            writeFileSync(frameFile, buildFrame(spec));
            const before = failsafePackets();
            const r = run([
              'bpftool',
              'prog',
              'run',
              'pinned',
              `${pins.path}/p/${PROGRAMS.xdpEntry}`,
              'data_in',
              frameFile,
            ]);
            assert.match(r.stdout, /Return value: 2\b/, `${label}: XDP_PASS either way (no policy loaded)`);
            assert.is(failsafePackets() - before, hit ? 1n : 0n, `${label}: failsafe ${hit ? 'hit' : 'miss'}`);
          }
        } finally {
          rmSync(frameFile, { force: true });
        }
      } finally {
        pins.cleanup();
      }
    });
  }
}

test.run();
