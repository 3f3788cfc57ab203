// Reading a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF) through libbpf's ring_buffer API, one record at a time.
import koffi from 'koffi';
import { MapType } from '../abi/bpf-uapi.js';
import { invalidArgument } from './errors.js';
import { BpfFd } from './fd.js';
import { check, failure, lastErrno, libbpfLibrary, outputMark } from './ffi.js';
import { BpfMap } from './maps.js';

/** Called with a copy of one record; the copy stays valid after the call (libbpf reuses the ring's memory). */
type RingSampleHandler = (record: Buffer) => void;

type RawPtr = unknown;

interface RingNative {
  ring_buffer__new: (mapFd: number, cb: unknown, ctx: null, opts: null) => RawPtr | null;
  ring_buffer__poll: (rb: RawPtr, timeoutMs: number) => number;
  ring_buffer__consume: (rb: RawPtr) => number;
  ring_buffer__free: (rb: RawPtr) => void;
}

const SAMPLE_FN = 'notrack_ring_sample_fn';
let ringNative: RingNative | undefined;

/**
 * Declared here, on first use, rather than in the shared table: the sample callback type must exist before the
 * functions that take it, and only `logs` needs any of this.
 */
function ring(): RingNative {
  if (ringNative) return ringNative;
  const lib = libbpfLibrary();
  koffi.proto(`int ${SAMPLE_FN}(void *ctx, void *data, size_t size)`);
  ringNative = {
    ring_buffer__new: lib.func(
      `void *ring_buffer__new(int map_fd, ${SAMPLE_FN} *sample_cb, void *ctx, void *opts)`,
    ) as RingNative['ring_buffer__new'],
    ring_buffer__poll: lib.func('int ring_buffer__poll(void *rb, int timeout_ms)') as RingNative['ring_buffer__poll'],
    ring_buffer__consume: lib.func('int ring_buffer__consume(void *rb)') as RingNative['ring_buffer__consume'],
    ring_buffer__free: lib.func('void ring_buffer__free(void *rb)') as RingNative['ring_buffer__free'],
  };
  return ringNative;
}

/**
 * A consumer of one ring buffer map. Polling is synchronous with a timeout chosen by the caller, so a reader
 * that wants to keep the event loop free polls with 0 or a few milliseconds between timers. The handler runs
 * inside the poll call; if it throws, the poll stops and the error is rethrown from `poll`/`consume`.
 * Always `close()`: it frees libbpf's consumer and releases the registered callback slot.
 */
export class RingBuffer {
  private rb: RawPtr | null;
  private callback: unknown;
  private readonly fd: BpfFd;
  private pending: unknown = undefined;
  private failed = false;

  private constructor(fd: BpfFd, handler: RingSampleHandler) {
    const native = ring();
    this.fd = fd;
    this.callback = koffi.register((_ctx: unknown, data: unknown, size: number | bigint) => {
      try {
        const n = Number(size);
        const record = n === 0 ? Buffer.alloc(0) : Buffer.from(new Uint8Array(koffi.view(data as never, n)).slice());
        handler(record);
        return 0;
      } catch (e) {
        // Never throw into C: remember the error, and a negative return makes libbpf stop this poll.
        this.pending = e;
        this.failed = true;
        return -1;
      }
    }, `${SAMPLE_FN} *`);
    const mark = outputMark();
    const rb = native.ring_buffer__new(fd.fd, this.callback, null, null);
    if (!rb) {
      const errno = lastErrno();
      koffi.unregister(this.callback as never);
      this.callback = null;
      fd.close();
      throw failure('ring_buffer__new', errno, { subject: 'ring buffer map', mark });
    }
    this.rb = rb;
  }

  /**
   * Starts consuming `map` (which must be a BPF_MAP_TYPE_RINGBUF). The ring buffer holds its own duplicate of
   * the map's fd, so `map` may be closed independently.
   */
  static open(map: BpfMap, handler: RingSampleHandler): RingBuffer {
    if (map.type !== MapType.RINGBUF)
      throw invalidArgument('ring_buffer__new', `map ${map.name} is not a ring buffer (type ${map.type})`);
    return new RingBuffer(map.fd.dup(), handler);
  }

  get closed(): boolean {
    return this.rb === null;
  }

  /** Waits up to `timeoutMs` (0: not at all) for records and hands each to the handler; returns how many. */
  poll(timeoutMs: number): number {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0)
      throw invalidArgument(
        'ring_buffer__poll',
        `timeout must be a whole number of milliseconds >= 0, got ${timeoutMs}`,
      );
    return this.settle('ring_buffer__poll', ring().ring_buffer__poll(this.handle(), timeoutMs));
  }

  /** Hands every record already in the ring to the handler without waiting; returns how many. */
  consume(): number {
    return this.settle('ring_buffer__consume', ring().ring_buffer__consume(this.handle()));
  }

  /** Frees the consumer and its callback slot. Safe to call twice. */
  close(): void {
    if (this.rb !== null) {
      ring().ring_buffer__free(this.rb);
      this.rb = null;
    }
    if (this.callback !== null) {
      koffi.unregister(this.callback as never);
      this.callback = null;
    }
    this.fd.close();
  }

  private handle(): RawPtr {
    if (this.rb === null) throw invalidArgument('RingBuffer', 'the ring buffer was already closed');
    return this.rb;
  }

  private settle(op: string, ret: number): number {
    if (this.failed) {
      const e = this.pending;
      this.pending = undefined;
      this.failed = false;
      throw e;
    }
    // EINTR: a signal (e.g. the SIGINT that ends a follow) arrived while waiting; nothing was lost.
    if (ret === -4) return 0;
    return check(op, ret, { subject: 'ring buffer' });
  }
}
