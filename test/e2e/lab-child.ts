// A process that builds a lab, starts its Git server, prints the lab's prefix, server pid and folder as one JSON
// line, and waits to be killed: the lab tests kill it with SIGKILL to leave a "crashed" lab behind.
import { createLab } from '../../src/demo/lab.js';
import { POLICIES_EXAMPLE } from './lab-fixture.js';

const lab = await createLab({ policyFolder: POLICIES_EXAMPLE });
await lab.startGitServer();
process.stdout.write(`${JSON.stringify({ prefix: lab.prefix, serverPid: lab.gitServer.pid, dir: lab.dir })}\n`);
setInterval(() => {}, 60_000);
