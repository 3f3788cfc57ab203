// The wire benchmark's lab: one sender namespace and one receiver namespace per variant, joined by veth pairs; the
// sender fires live frames (BPF_PROG_RUN, BPF_F_TEST_XDP_LIVE_FRAMES) whose IPv4 source comes from a pool, and a
// measurement is the receiver NAPI thread's CPU time divided by the frames that receiver processed.
//
// Why threaded NAPI: each receiver veth then runs its receive path (XDP, skb build, netfilter hooks, local delivery)
// in a kernel thread of its own, whose CPU time (/proc/PID/schedstat) counts exactly what the receiver spent,
// whichever core it ran on and whatever else the machine did meanwhile. GRO is switched on so that a receiver
// without an XDP program still has NAPI (and its peer can transmit XDP frames to it).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestRunFlag } from '../../src/abi/bpf-uapi.js';
import {
  attachTc,
  attachXdp,
  BpfObject,
  interfaceIndex,
  numPossibleCpus,
  openPinnedMap,
  testRun,
  type BpfMap,
  type BpfProgram,
  type TcAttachment,
  type XdpAttachment,
} from '../../src/libbpf/index.js';
import { buildFrame } from '../../src/dataplane/frames.js';
import { bpfBuildDir, type BpfBuildDir } from '../../test/support/bpf-objects.js';
import { NetNs, pinDir, run } from '../../test/support/netns.js';

const SENDER_SOURCE = fileURLToPath(new URL('./sender.bpf.c', import.meta.url));

/** The UDP port every benchmark frame goes to. */
export const WIRE_PORT = 7777;

/** A receiver: the namespace a variant runs in, its veth end, and the sender's end facing it. */
export interface Receiver {
  readonly index: number;
  readonly ns: NetNs;
  /** The receiver's interface (inside `ns`). */
  readonly dev: string;
  readonly addr: string;
  /** The sender's interface facing it (inside the sender namespace). */
  readonly txDev: string;
  readonly txIfindex: number;
  readonly frame: Buffer;
}

export interface Sample {
  /** Frames the receiver's NAPI processed during the measurement. */
  packets: number;
  /** Nanoseconds of CPU its NAPI thread used. */
  cpuNs: number;
}

/** For short synchronous waits while a receiver drains (the bench holds no event loop work meanwhile). */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

const SENDER_CPU = 0;
const RECEIVER_CPU = 1;

const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

function macOf(ns: NetNs, dev: string): string {
  return ns.exec(['cat', `/sys/class/net/${dev}/address`]).stdout.trim();
}

export class WireLab {
  readonly sender: NetNs;
  readonly receivers: Receiver[] = [];
  /** A private bpffs for everything the variants pin (notrack, xdp-filter). */
  readonly bpffs: { path: string; cleanup: () => void };
  private readonly build: BpfBuildDir;
  private readonly object: BpfObject;
  private readonly send: BpfProgram;
  readonly dropProgram: BpfProgram;
  private readonly passProgram: BpfProgram;
  private readonly tcPassProgram: BpfProgram;
  private readonly pool: BpfMap;
  private readonly cursor: BpfMap;
  private readonly attachments: XdpAttachment[] = [];
  private readonly objects: BpfObject[] = [];
  private readonly tcAttachments: TcAttachment[] = [];
  /** Receiver interface names carry this (from the pid) so their NAPI threads are told apart. */
  private readonly tag = (process.pid % 46656).toString(36).padStart(3, '0');

  private constructor() {
    this.build = bpfBuildDir('wire');
    this.bpffs = pinDir();
    this.sender = NetNs.create('s');
    try {
      const src = readFileSync(SENDER_SOURCE, 'utf8');
      this.object = BpfObject.open(this.build.compile('wire_sender', src));
      this.object.load();
      this.send = this.object.program('wire_send').program();
      this.dropProgram = this.object.program('wire_drop').program();
      this.passProgram = this.object.program('wire_pass').program();
      this.tcPassProgram = this.object.program('wire_tc_pass').program();
      this.pool = this.object.map('wire_pool').map();
      this.cursor = this.object.map('wire_cursor').map();
    } catch (e) {
      this.sender.delete();
      this.bpffs.cleanup();
      this.build.cleanup();
      throw e;
    }
  }

  static open(): WireLab {
    // Every thread of this process (the sender's test runs) on core 0; receivers on core 1 (see measure()).
    run(['taskset', '-a', '-p', '-c', String(SENDER_CPU), String(process.pid)]);
    return new WireLab();
  }

  /** Source addresses (host-order numbers) the frames cycle through; every CPU starts at the pool's start. */
  setPool(addresses: readonly number[]): void {
    if (addresses.length === 0 || addresses.length > 1 << 20) throw new Error('wire pool: 1 .. 2^20 addresses');
    const batch: { key: number; value: Buffer }[] = [];
    for (let i = 0; i < addresses.length; i++) {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(addresses[i]! >>> 0);
      batch.push({ key: i, value: v });
    }
    for (let at = 0; at < batch.length; at += 65536) this.pool.updateBatch(batch.slice(at, at + 65536));
    const cursor = Buffer.alloc(16);
    cursor.writeUInt32LE(addresses.length, 4);
    this.cursor.updatePerCpu(
      0,
      Array.from({ length: numPossibleCpus() }, () => cursor),
    );
  }

  /** A new receiver namespace with its veth pair, GRO on and threaded NAPI. */
  addReceiver(): Receiver {
    const index = this.receivers.length;
    const ns = NetNs.create('r');
    const dev = `w${this.tag}${index}`;
    const txDev = `t${index}`;
    try {
      run([
        'ip',
        'link',
        'add',
        'name',
        txDev,
        'netns',
        this.sender.name,
        'type',
        'veth',
        'peer',
        'name',
        dev,
        'netns',
        ns.name,
      ]);
      const addr = `198.18.${index}.1`;
      ns.exec(['ip', 'addr', 'add', `${addr}/24`, 'dev', dev]);
      this.sender.exec(['ip', 'addr', 'add', `198.18.${index}.2/24`, 'dev', txDev]);
      ns.exec(['ip', 'link', 'set', dev, 'up']);
      this.sender.exec(['ip', 'link', 'set', txDev, 'up']);
      // Replies (ICMP port unreachable, rate-limited) go back to the sender, whatever the spoofed source.
      ns.exec(['ip', 'route', 'add', 'default', 'via', `198.18.${index}.2`]);
      ns.exec(['ethtool', '-K', dev, 'gro', 'on']);
      ns.exec(['sh', '-c', `echo 1 > /sys/class/net/${dev}/threaded`]);
      const txIfindex = this.sender.enter(() => interfaceIndex(txDev));
      const frame = buildFrame({
        family: 4,
        proto: 'udp',
        src: '198.18.255.1',
        dst: addr,
        sport: 1024,
        dport: WIRE_PORT,
        srcMac: macOf(this.sender, txDev),
        dstMac: macOf(ns, dev),
        payload: Buffer.alloc(18),
      });
      const r: Receiver = { index, ns, dev, addr, txDev, txIfindex, frame };
      this.receivers.push(r);
      return r;
    } catch (e) {
      ns.delete();
      throw e;
    }
  }

  /** Attaches the bare XDP_DROP program to a receiver (native mode). */
  attachDrop(r: Receiver): void {
    this.attachXdpProgram(r, this.dropProgram);
  }

  /**
   * Attaches programs that do nothing: XDP_PASS (native mode) and, with `tc`, a TC ingress program that returns
   * TC_ACT_UNSPEC, attached the way notrack attaches its hook (tcx where the kernel has it).
   */
  attachPass(r: Receiver, tc: boolean): void {
    this.attachXdpProgram(r, this.passProgram);
    if (tc)
      this.tcAttachments.push(
        r.ns.enter(() =>
          attachTc({ ifindex: interfaceIndex(r.dev), program: this.tcPassProgram, direction: 'ingress' }),
        ),
      );
  }

  private attachXdpProgram(r: Receiver, program: BpfProgram): void {
    this.attachments.push(r.ns.enter(() => attachXdp({ ifindex: interfaceIndex(r.dev), program, mode: 'native' })));
  }

  /** Fills xdp-filter's IPv4 map (pinned in this lab's bpffs) with source addresses to drop. */
  fillXdpFilter(addresses: readonly number[]): void {
    const map = openPinnedMap(join(this.bpffs.path, 'xdp-filter', 'filter_ipv4'));
    try {
      WireLab.fillFilterIpv4(map, addresses);
    } finally {
      map.close();
    }
  }

  /**
   * Loads xdp-filter's own deny-by-IP program (`object`, from xdp-tools) with its IPv4 map resized to hold
   * `addresses`, fills the map and attaches the program natively. The stock tool cannot do this: the object fixes
   * the map at 10,000 entries and the command line has no option to change it. Its pinned maps go to a folder of
   * the lab's bpffs.
   */
  attachXdpFilterObject(r: Receiver, object: string, addresses: readonly number[]): void {
    const pins = join(this.bpffs.path, `xdpfilt-${r.index}`);
    mkdirSync(pins);
    const obj = BpfObject.open(object, { pinRoot: pins });
    this.objects.push(obj);
    obj.map('filter_ipv4').setMaxEntries(addresses.length);
    obj.load();
    WireLab.fillFilterIpv4(obj.map('filter_ipv4').map(), addresses);
    const program = obj.program(object.replace(/^.*\//, '').replace(/\.o$/, '')).program();
    this.attachXdpProgram(r, program);
  }

  /** xdp-filter's per-CPU IPv4 map: key the address (network order), value MAP_FLAG_SRC on every CPU. */
  private static fillFilterIpv4(map: BpfMap, addresses: readonly number[]): void {
    const src = Buffer.alloc(8);
    src.writeBigUInt64LE(1n); // MAP_FLAG_SRC
    const values = Array.from({ length: numPossibleCpus() }, () => src);
    for (let at = 0; at < addresses.length; at += 4096) {
      const batch = addresses.slice(at, at + 4096).map((a) => {
        const key = Buffer.alloc(4);
        key.writeUInt32BE(a >>> 0);
        return { key, values };
      });
      map.updateBatchPerCpu(batch);
    }
  }

  /** The pid of the receiver's NAPI thread. */
  napiThread(r: Receiver): number {
    const prefix = `napi/${r.dev}-`;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(join('/proc', entry, 'comm'), 'utf8').startsWith(prefix)) return Number(entry);
      } catch {
        /* the process ended */
      }
    }
    throw new Error(`no NAPI thread ${prefix}* for ${r.dev} (threaded NAPI off?)`);
  }

  private static cpuNs(pid: number): number {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  }

  /** Frames the receiver's NAPI has taken from its ring so far (veth's per-queue XDP counter counts every frame). */
  received(r: Receiver): number {
    return WireLab.stat(r.ns, r.dev, 'rx_queue_0_xdp_packets');
  }

  /** Frames the sender handed to the receiver's ring (the rest found it full and were dropped at the sender). */
  transmitted(r: Receiver): number {
    return WireLab.stat(this.sender, r.txDev, 'tx_queue_0_xdp_xmit');
  }

  private static stat(ns: NetNs, dev: string, name: string): number {
    const out = ns.exec(['ethtool', '-S', dev]).stdout;
    const m = new RegExp(`${name}:\\s*(\\d+)`).exec(out);
    if (!m) throw new Error(`ethtool -S ${dev}: no ${name}`);
    return Number(m[1]);
  }

  /**
   * Fires live frames at a receiver until it has processed at least `frames` / 4 of them (a burst can find the
   * ring full when the NAPI thread was slow to wake) and measures its NAPI thread once it has drained its ring.
   */
  measure(r: Receiver, frames: number): Sample {
    const pid = this.napiThread(r);
    // The receiver on the other core than the sender, and ahead of other work there (SCHED_FIFO): on a busy core
    // the NAPI thread may not run during a whole burst, and the sender then drops nearly every frame on a full ring.
    run(['taskset', '-p', '-c', String(RECEIVER_CPU), String(pid)]);
    run(['chrt', '-f', '-p', '50', String(pid)]);
    const p0 = this.received(r);
    const c0 = WireLab.cpuNs(pid);
    let p1 = p0;
    for (let burst = 0; burst < 40 && p1 - p0 < frames / 4; burst++) {
      const x0 = this.transmitted(r);
      this.fire(r, frames);
      const sent = this.transmitted(r) - x0;
      const deadline = Date.now() + 10_000;
      const before = p1;
      p1 = this.received(r);
      while (p1 - before < sent && Date.now() < deadline) {
        Atomics.wait(SLEEPER, 0, 0, 5);
        p1 = this.received(r);
      }
    }
    const c1 = WireLab.cpuNs(pid);
    return { packets: p1 - p0, cpuNs: c1 - c0 };
  }

  /** Sends frames from the sender namespace, out of the veth facing `r`. */
  fire(r: Receiver, frames: number): void {
    const ctx = Buffer.alloc(24);
    ctx.writeUInt32LE(0, 0); // data
    ctx.writeUInt32LE(r.frame.length, 4); // data_end
    ctx.writeUInt32LE(r.txIfindex, 12); // ingress_ifindex
    this.sender.enter(() =>
      testRun(this.send, { data: r.frame, ctx, repeat: frames, flags: TestRunFlag.XDP_LIVE_FRAMES, batchSize: 64 }),
    );
  }

  close(): void {
    for (const a of this.tcAttachments) {
      try {
        a.detach();
      } catch {
        /* gone with its namespace */
      }
    }
    for (const a of this.attachments) {
      try {
        a.link.close();
      } catch {
        /* gone with its namespace */
      }
    }
    for (const r of this.receivers) r.ns.delete();
    for (const o of this.objects) o.close();
    this.sender.delete();
    this.object.close();
    this.bpffs.cleanup();
    this.build.cleanup();
  }
}

export { quad };
