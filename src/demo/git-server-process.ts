// The lab's Git server program, run inside the git namespace: serves the bare repositories of one folder over
// smart HTTP, prints one JSON line when listening and one per request, and stops on SIGTERM or when its parent
// goes away (its stdin closes), so a crashed lab does not leave a server behind.
// Usage: git-server-process --root DIR --home DIR --listen ADDRESS:PORT
import { parseArgs } from 'node:util';
import { serveGitHttp } from './git-http.js';

const { values } = parseArgs({
  options: { root: { type: 'string' }, home: { type: 'string' }, listen: { type: 'string' } },
  strict: true,
});
const listen = /^(.+):(\d+)$/.exec(values.listen ?? '');
if (values.root === undefined || values.home === undefined || !listen) {
  process.stderr.write('usage: git-server-process --root DIR --home DIR --listen ADDRESS:PORT\n');
  process.exit(64);
}

const say = (event: object): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

const served = await serveGitHttp({
  projectRoot: values.root,
  home: values.home,
  host: listen[1]!,
  port: Number(listen[2]),
  onAnswered: (record) => say({ request: { method: record.method, path: record.path, status: record.status } }),
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await served.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
say({ listening: `${listen[1]}:${served.port}` });
