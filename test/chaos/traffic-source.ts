// The chaos run's traffic, sent from the peer's namespace for the whole run: a steady allowed flow of numbered UDP
// datagrams (with a mark of the last number every 100 ms, so a lost number can be placed in time) and a flood of
// numbered datagrams from a deny-listed source address. Prints its counts when its stdin closes.
// Usage: traffic-source.ts --to ADDR --feed-port P --feed-every-ms 5 --flood-port P --flood-from ADDR
//        --flood-every-ms 2 --flood-burst 2
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    'feed-port': { type: 'string' },
    'feed-every-ms': { type: 'string', default: '5' },
    'flood-port': { type: 'string' },
    'flood-from': { type: 'string' },
    'flood-every-ms': { type: 'string', default: '2' },
    'flood-burst': { type: 'string', default: '2' },
  },
  strict: true,
});
const to = values.to!;
const feedPort = Number(values['feed-port']);
const floodPort = Number(values['flood-port']);

const say = (event: object): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
};

const feed = dgram.createSocket('udp4');
let feedSent = 0,
  feedErrors = 0;
const feedTimer = setInterval(() => {
  feedSent += 1;
  feed.send(String(feedSent), feedPort, to, (e) => {
    if (e) feedErrors += 1;
  });
}, Number(values['feed-every-ms']));
const markTimer = setInterval(() => say({ feedSeq: feedSent }), 100);

// The flood's socket is bound to the deny-listed address. While the interface is being re-created sends fail: the
// socket is then made again, so the flood resumes with the interface. Failed sends are counted, not fatal.
let flood: dgram.Socket | null = null;
let binding = false;
function floodSocket(): dgram.Socket | null {
  if (flood || binding) return flood;
  binding = true;
  const s = dgram.createSocket('udp4');
  s.on('error', () => {
    s.close();
    binding = false;
  });
  s.bind(0, values['flood-from'], () => {
    flood = s;
    binding = false;
  });
  return null;
}
floodSocket();
while (!flood) await new Promise((r) => setTimeout(r, 10));
let floodSent = 0,
  floodErrors = 0;
const burst = Number(values['flood-burst']);
const floodTimer = setInterval(() => {
  const s = floodSocket();
  for (let i = 0; i < burst; i++) {
    floodSent += 1;
    if (!s) {
      floodErrors += 1;
      continue;
    }
    s.send(String(floodSent), floodPort, to, (e) => {
      if (!e) return;
      floodErrors += 1;
      if (flood === s) {
        flood = null;
        s.close();
      }
    });
  }
}, Number(values['flood-every-ms']));

function finish(): void {
  clearInterval(feedTimer);
  clearInterval(floodTimer);
  clearInterval(markTimer);
  // Let the callbacks of the last sends land before counting.
  setTimeout(() => {
    say({ final: { feedSent, feedErrors, floodSent, floodErrors } });
    process.stdout.write('', () => process.exit(0));
  }, 200);
}
process.stdin.on('end', finish);
process.on('SIGTERM', finish);
process.stdin.resume();
say({ ready: true, feedSeq: 0 });
