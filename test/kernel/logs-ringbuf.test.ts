// The ring buffer reader of the libbpf binding: what it accepts, that an empty ring reads as nothing (with and
// without waiting), and that closing releases the callback slot (more readers than koffi has slots can come and go).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { catchBpf } from '../support/bpf-error.js';
import { RingBuffer, createMap } from '../../src/libbpf/index.js';
import { kernelGate } from '../support/kernel-gate.js';

const gate = kernelGate('logs-ringbuf');
const kt = gate.test;

kt('an empty ring reads as no records, poll waits its timeout, and only ring buffer maps are accepted', () => {
  const ring = createMap({ type: 'RINGBUF', name: 'ntt_ring', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const array = createMap({ type: 'ARRAY', name: 'ntt_array', keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    const seen: Buffer[] = [];
    const reader = RingBuffer.open(ring, (r) => seen.push(r));
    try {
      assert.is(reader.consume(), 0);
      const started = Date.now();
      assert.is(reader.poll(50), 0);
      assert.ok(Date.now() - started >= 40, 'poll waited for records');
      assert.equal(seen, []);
    } finally {
      reader.close();
    }
    reader.close();
    assert.ok(reader.closed);
    assert.is(catchBpf(() => reader.consume()).code, 'bpf-invalid-argument', 'a closed reader cannot be used');
    assert.is(catchBpf(() => RingBuffer.open(array, () => undefined)).code, 'bpf-invalid-argument');
  } finally {
    ring.fd.close();
    array.fd.close();
  }
});

kt('closing a reader frees its callback slot: more readers than koffi has slots open and close in turn', () => {
  const ring = createMap({ type: 'RINGBUF', name: 'ntt_ring', keySize: 0, valueSize: 0, maxEntries: 4096 });
  try {
    for (let i = 0; i < 8300; i++) RingBuffer.open(ring, () => undefined).close();
  } finally {
    ring.fd.close();
  }
});

test.run();
