// Rule ports as Calico writes them: numbers, "from:to" ranges and named ports, and what is said about bad ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatPort, parsePort, type PortSpec } from '../../src/model/ports.js';

function port(value: number | string): PortSpec {
  const r = parsePort(value);
  if (!r.ok) throw new Error(`${String(value)} should parse: ${r.message}`);
  return r.port;
}

function problem(value: number | string): string {
  const r = parsePort(value);
  if (r.ok) throw new Error(`${String(value)} should be refused`);
  return r.message;
}

test('a number, or a number in a string, is a one-port range', () => {
  assert.equal(port(80), { kind: 'range', from: 80, to: 80 });
  assert.equal(port('443'), { kind: 'range', from: 443, to: 443 });
  assert.equal(port(0), { kind: 'range', from: 0, to: 0 });
  assert.equal(port(65535), { kind: 'range', from: 65535, to: 65535 });
});

test('"from:to" is an inclusive range; a one-port range is allowed', () => {
  assert.equal(port('1024:65535'), { kind: 'range', from: 1024, to: 65535 });
  assert.equal(port('8080:8080'), { kind: 'range', from: 8080, to: 8080 });
  assert.equal(port(' 6000 : 6010 '), { kind: 'range', from: 6000, to: 6010 });
});

test('anything else that looks like a DNS label is a named port, resolved later against HostEndpoint ports', () => {
  assert.equal(port('postgres'), { kind: 'named', name: 'postgres' });
  assert.equal(port('memcache-udp'), { kind: 'named', name: 'memcache-udp' });
  assert.equal(port('h2'), { kind: 'named', name: 'h2' });
});

test('out-of-range ports and ranges are refused with the limit', () => {
  assert.is(problem(65536), 'port 65536 is out of range 0-65535');
  assert.is(problem(-1), 'port -1 is out of range 0-65535');
  assert.is(problem('70000'), 'port 70000 is out of range 0-65535');
  assert.is(problem('1024:65536'), 'port range "1024:65536" goes beyond 65535');
  assert.is(problem('99999:100000'), 'port range "99999:100000" goes beyond 65535');
});

test('a reversed range is refused with the range to write instead', () => {
  assert.is(problem('90:80'), 'port range "90:80" starts after it ends; write "80:90"');
});

test('a range written with "-" is refused with the Calico spelling', () => {
  assert.is(problem('80-90'), 'port range "80-90" uses "-"; Calico ranges use ":", e.g. "80:90"');
  assert.is(problem('80 - 90'), 'port range "80 - 90" uses "-"; Calico ranges use ":", e.g. "80:90"');
});

test('text that is neither a number, a range nor a port name is refused, with what is allowed', () => {
  const allowed = 'is neither a port number, a "from:to" range nor a port name (lower-case letters, digits and \'-\')';
  for (const bad of ['Postgres', 'http_alt', '-http', 'http-', '80:', ':80', '80:90:100', 'tcp/80', '']) {
    assert.is(problem(bad), `${JSON.stringify(bad)} ${allowed}`, bad);
  }
});

test('formatPort writes ports back the way Calico reads them', () => {
  assert.is(formatPort(port(22)), '22');
  assert.is(formatPort(port('1024:2047')), '1024:2047');
  assert.is(formatPort(port('5000:5000')), '5000');
  assert.is(formatPort(port('postgres')), 'postgres');
  for (const text of ['0', '65535', '1:65535', 'memcache']) assert.is(formatPort(port(text)), text);
});

test.run();
