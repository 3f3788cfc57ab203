// The binding's struct offsets and enum numbers agree with the installed libbpf and uapi headers (offsetof/sizeof).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachType, LinkType, MapType, ProgType, XdpFlag, MapFlag, TestRunFlag } from '../../src/abi/bpf-uapi.js';
import { KERNEL_ONLY_FIELDS, OFFSETS } from '../../src/libbpf/struct-offsets.js';

/** Compiles and runs a C program that prints `name value` lines; returns them as a map. */
function measure(body: string): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'notrack-offsets-'));
  try {
    const src = join(dir, 'offsets.c');
    const bin = join(dir, 'offsets');
    writeFileSync(
      src,
      `#include <stdio.h>\n#include <stddef.h>\n#include <bpf/bpf.h>\n#include <bpf/libbpf.h>\n#include <linux/if_link.h>\nint main(void) {\n${body}\nreturn 0;\n}\n`,
    );
    const cc = spawnSync('clang', ['-O0', '-w', '-o', bin, src], { encoding: 'utf8' });
    assert.is(cc.status, 0, `clang failed: ${cc.stderr}`);
    const run = spawnSync(bin, [], { encoding: 'utf8' });
    assert.is(run.status, 0, run.stderr);
    const out = new Map<string, number>();
    for (const line of run.stdout.trim().split('\n')) {
      const [k, v] = line.split(' ');
      out.set(k!, Number(v));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every struct offset and size the binding writes matches the installed headers', () => {
  const lines: string[] = [];
  const expected = new Map<string, number>();
  for (const [struct, fields] of Object.entries(OFFSETS)) {
    const cType = struct === 'bpf_attr_query' ? 'union bpf_attr' : `struct ${struct}`;
    for (const [field, value] of Object.entries(fields)) {
      const key = `${struct}.${field}`;
      if (KERNEL_ONLY_FIELDS.has(key)) continue;
      expected.set(key, value);
      lines.push(
        field === 'size'
          ? `printf("%s %zu\\n", "${key}", sizeof(${cType}));`
          : `printf("%s %zu\\n", "${key}", offsetof(${cType}, ${field}));`,
      );
    }
  }
  const got = measure(lines.join('\n'));
  const wrong = [...expected]
    .filter(([k, v]) => got.get(k) !== v)
    .map(([k, v]) => `${k}: binding ${v}, header ${got.get(k)}`);
  assert.equal(wrong, [], wrong.join('\n'));
  assert.ok(expected.size > 100, `checked ${expected.size} fields`);
});

test('map, program, attach and link type numbers match the uapi enums', () => {
  const checks: [string, number][] = [
    ...Object.entries(MapType).map(([k, v]) => [`BPF_MAP_TYPE_${k}`, v] as [string, number]),
    ...Object.entries(ProgType).map(([k, v]) => [`BPF_PROG_TYPE_${k}`, v] as [string, number]),
    ...Object.entries(XdpFlag).map(([k, v]) => [`XDP_FLAGS_${k}`, v] as [string, number]),
    ...Object.entries(TestRunFlag).map(
      ([k, v]) => [k === 'RUN_ON_CPU' ? 'BPF_F_TEST_RUN_ON_CPU' : 'BPF_F_TEST_XDP_LIVE_FRAMES', v] as [string, number],
    ),
    ...Object.entries(MapFlag).map(([k, v]) => [`BPF_F_${k}`, v] as [string, number]),
    // Attach and link types newer than the host's 6.1 header are checked against its last entry below.
    ...Object.entries(AttachType)
      .filter(([, v]) => v < 44)
      .map(([k, v]) => [`BPF_${k}`, v] as [string, number]),
    ...Object.entries(LinkType)
      .filter(([, v]) => v <= 9)
      .map(([k, v]) => [`BPF_LINK_TYPE_${k}`, v] as [string, number]),
    ['MAX_BPF_LINK_TYPE', 10],
    ['__MAX_BPF_ATTACH_TYPE', 44],
  ];
  const got = measure(checks.map(([name]) => `printf("%s %ld\\n", "${name}", (long)${name});`).join('\n'));
  const wrong = checks
    .filter(([name, v]) => got.get(name) !== v)
    .map(([name, v]) => `${name}: binding ${v}, header ${got.get(name)}`);
  assert.equal(wrong, [], wrong.join('\n'));
  // The host's 6.1 header stops before BPF_STRUCT_OPS (44); BPF_NETFILTER (45) came in 6.4, then tcx in 6.6.
  assert.is(AttachType.TCX_INGRESS, got.get('__MAX_BPF_ATTACH_TYPE')! + 2);
  assert.is(AttachType.TCX_EGRESS, AttachType.TCX_INGRESS + 1);
  // Link types: NETFILTER (10) was next after STRUCT_OPS, then TCX (11) in 6.6.
  assert.is(LinkType.NETFILTER, got.get('MAX_BPF_LINK_TYPE')!);
  assert.is(LinkType.TCX, LinkType.NETFILTER + 1);
});

test.run();
