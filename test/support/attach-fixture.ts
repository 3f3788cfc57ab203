// What the TC and XDP attach tests share: a BPF object compiled from C and loaded, and a veth pair in two test
// namespaces to attach its programs to and send traffic over. Built in `test.before`, closed in `test.after`.
import { BpfObject, readU64 } from '../../src/libbpf/index.js';
import { bpfBuildDir, type BpfBuildDir } from './bpf-objects.js';
import { vethPair, type VethPair } from './netns.js';

/**
 * The head of a C source whose programs count what they see: a one-slot `seen` array of u64 and
 * `count_seen()`, which adds 1 to it.
 */
export const SEEN_COUNTER_C = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} seen SEC(".maps");

static __always_inline void count_seen(void) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&seen, &k);
  if (v) __sync_fetch_and_add(v, 1);
}
`;

/** How many times the loaded object's programs called `count_seen()`. */
function seenCount(obj: BpfObject): bigint {
  return readU64(obj.map('seen').map().lookup(0)!);
}

export interface AttachFixture {
  /** `a` holds the interface programs attach to, `b` is the peer that sends traffic. */
  readonly net: VethPair;
  /** The loaded object; its programs call `count_seen()` from SEEN_COUNTER_C. */
  readonly obj: BpfObject;
  readonly objPath: string;
  /** The folder the object was compiled in, for further objects; removed by `close()`. */
  readonly build: BpfBuildDir;
  /** Pings `a` twice from `b` and returns how many calls to `count_seen()` happened meanwhile. */
  seenDuringPing(): bigint;
  close(): void;
}

export interface AttachFixtureOptions {
  /** Names the temporary folder and the object (`<tag>_sample.o`). */
  tag: string;
  /** C source with SEEN_COUNTER_C at its head. */
  source: string;
  /** The veth pair's subnet (10.200.<subnet>.0/24), distinct per test file. */
  subnet: number;
}

export function openAttachFixture(options: AttachFixtureOptions): AttachFixture {
  const build = bpfBuildDir(options.tag);
  let obj: BpfObject | undefined;
  let net: VethPair | undefined;
  const close = (): void => {
    net?.a.delete();
    net?.b.delete();
    obj?.close();
    build.cleanup();
  };
  try {
    const objPath = build.compile(`${options.tag}_sample`, options.source);
    obj = BpfObject.open(objPath);
    obj.load();
    net = vethPair(options.subnet);
    const loaded = obj;
    const { b, aAddr4 } = net;
    return {
      net,
      obj: loaded,
      objPath,
      build,
      seenDuringPing: () => {
        const before = seenCount(loaded);
        b.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', aAddr4]);
        return seenCount(loaded) - before;
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}
