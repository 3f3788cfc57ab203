// Which established TCP sessions a new policy would cut: both directions through the reference evaluator, failsafe
// ports and sessions the running policy already cuts left out; and the reading of `ss -Htanp`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readTcpSessions, type TcpSession } from '../../src/dataplane/tcp-sessions.js';
import { SessionDisruptionError, sessionsCut } from '../../src/reconcile/session-check.js';
import { compileFiles, dbPolicy } from '../support/reconcile-fixture.js';
import { lockOutPolicy } from '../support/lock-out-policy.js';

const session = (over: Partial<TcpSession>): TcpSession => ({
  family: 4,
  local: '10.0.2.10',
  localPort: 5432,
  peer: '10.0.1.50',
  peerPort: 40000,
  iface: 'eth0',
  inbound: true,
  ...over,
});

const current = compileFiles(dbPolicy());
const inboundDenied = compileFiles(lockOutPolicy('Ingress'));
const outboundDenied = compileFiles(lockOutPolicy('Egress'));

test('a live postgres session (IPv4 and IPv6) is cut by deny-all inbound; ssh, a foreign interface and lo are not', () => {
  const sessions = [
    session({}),
    session({ family: 6, local: 'fd00:0:0:2::10', peer: 'fd00:0:0:1::50' }),
    session({ localPort: 22 }),
    session({ iface: null }),
  ];
  const cut = sessionsCut(current, inboundDenied, sessions);
  assert.equal(
    cut.map((c) => [c.session.family, c.session.localPort, c.direction, c.rule?.policy]),
    [
      [4, 5432, 'ingress', 'deny-everything'],
      [6, 5432, 'ingress', 'deny-everything'],
    ],
  );
  const message = new SessionDisruptionError(cut, 'abc123').message;
  assert.match(
    message,
    /^abc123 would cut 2 established TCP sessions on non-failsafe ports: 10\.0\.1\.50:40000 -> 10\.0\.2\.10:5432 on eth0/,
  );
  assert.match(message, /\[fd00:0:0:1::50\]:40000 -> \[fd00:0:0:2::10\]:5432/);
});

test('a session the running policy already cuts is not this commit doing', () => {
  assert.equal(sessionsCut(inboundDenied, inboundDenied, [session({})]), []);
});

test('a session the host opened is cut by an egress deny (its own packets) and by an ingress deny (the replies)', () => {
  const opened = session({ localPort: 45000, peerPort: 443, inbound: false });
  assert.equal(
    sessionsCut(current, outboundDenied, [opened]).map((c) => c.direction),
    ['egress'],
  );
  assert.equal(
    sessionsCut(current, inboundDenied, [opened]).map((c) => c.direction),
    ['ingress'],
  );
  // Replies of the host's own DNS-over-TCP or BGP sessions are failsafe replies: never counted.
  assert.equal(sessionsCut(current, inboundDenied, [session({ localPort: 45001, peerPort: 179, inbound: false })]), []);
});

test('on a first apply (nothing of notrack runs) every session the new policy denies counts', () => {
  assert.is(sessionsCut(null, inboundDenied, [session({})]).length, 1);
});

test('the running state is read only when the new one denies a live session, and then once', () => {
  let reads = 0;
  const running = () => (reads++, current);
  // ssh (failsafe) and a session on a foreign address: the new state denies nothing, the applied state is not read.
  assert.equal(sessionsCut(running, inboundDenied, [session({ localPort: 22 }), session({ iface: null })]), []);
  assert.equal(sessionsCut(running, inboundDenied, []), []);
  assert.is(reads, 0);
  const cut = sessionsCut(running, inboundDenied, [session({}), session({ peerPort: 40001 })]);
  assert.is(cut.length, 2);
  assert.is(reads, 1);
  // The same answers as with the state given outright.
  assert.equal(cut, sessionsCut(current, inboundDenied, [session({}), session({ peerPort: 40001 })]));
});

test('the message lists five sessions and counts the rest', () => {
  const many = Array.from({ length: 8 }, (_, i) => session({ peerPort: 40000 + i }));
  const message = new SessionDisruptionError(sessionsCut(current, inboundDenied, many), 'abc').message;
  assert.match(message, /would cut 8 established TCP sessions/);
  assert.match(message, /; and 3 more;/);
  assert.is(message.match(/ -> /g)?.length, 5);
});

test('ss -Htanp: established sessions with family, ports and direction; own sockets and loopback left out', () => {
  const out = [
    'LISTEN 0      128          0.0.0.0:5432       0.0.0.0:*     users:(("postgres",pid=10,fd=5))',
    'LISTEN 0      128             [::]:22            [::]:*',
    'ESTAB  0      0          10.0.2.10:5432     10.0.1.50:40000 users:(("postgres",pid=11,fd=7))',
    'ESTAB  0      0   [::ffff:10.0.2.10]:22      [::ffff:10.0.1.50]:40001',
    `ESTAB  0      0          10.0.2.10:41000   10.0.1.50:8443  users:(("node",pid=${process.pid},fd=30))`,
    'ESTAB  0      0     [fd00:0:0:2::10]:41001 [fd00:0:0:1::50]:443',
    'ESTAB  0      0          127.0.0.1:9808     127.0.0.1:50000',
    'TIME-WAIT 0   0          10.0.2.10:41002   10.0.1.50:443',
  ].join('\n');
  const sessions = readTcpSessions((argv) => {
    assert.equal(argv, ['ss', '-Htanp']);
    return { status: 0, stdout: out, stderr: '' };
  });
  assert.equal(
    sessions.map((s) => [s.family, s.local, s.localPort, s.peer, s.peerPort, s.inbound]),
    [
      [4, '10.0.2.10', 5432, '10.0.1.50', 40000, true],
      [4, '10.0.2.10', 22, '10.0.1.50', 40001, true],
      [6, 'fd00:0:0:2::10', 41001, 'fd00:0:0:1::50', 443, false],
    ],
  );
});

test('ss failing is an error, not "no sessions"', () => {
  assert.throws(
    () => readTcpSessions(() => ({ status: 1, stdout: '', stderr: 'ss: not found' })),
    (e: Error & { code?: string }) => e.code === 'tcp-sessions-unreadable' && /ss: not found/.test(e.message),
  );
});

test.run();
