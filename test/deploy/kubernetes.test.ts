// The DaemonSet runs the image that deploy/container builds the way that image expects: through its entrypoint
// (which picks the node's iptables backend), with the node's kernel modules mounted read-only.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/cli.js';

interface Container {
  name: string;
  image: string;
  command?: string[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface DaemonSet {
  kind: string;
  spec: {
    template: {
      spec: { containers: Container[]; volumes: { name: string; hostPath?: { path: string; type?: string } }[] };
    };
  };
}

const daemonSet = parseAllDocuments(
  readFileSync(path.join(ROOT, 'deploy', 'kubernetes', 'notrack-agent-daemonset.yaml'), 'utf8'),
)
  .map((d) => d.toJS() as DaemonSet)
  .find((d) => d?.kind === 'DaemonSet')!;
const agent = daemonSet.spec.template.spec.containers.find((c) => c.name === 'agent')!;

test("the agent starts through the image's entrypoint, so the node's iptables backend is used", () => {
  const containerfile = readFileSync(path.join(ROOT, 'deploy', 'container', 'Containerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT \["([^"]+)"\]/m.exec(containerfile)?.[1];
  assert.ok(entrypoint, 'the Containerfile names an entrypoint');
  // Kubernetes' `command` replaces the image's ENTRYPOINT: it must name the same program (by its name on PATH).
  assert.is(agent.command?.[0], path.basename(entrypoint!));
  assert.match(containerfile, `COPY entrypoint.sh ${entrypoint}`);
  assert.is(agent.command?.[1], 'agent');
});

test("the node's /lib/modules is mounted read-only from the host", () => {
  const mount = agent.volumeMounts?.find((m) => m.mountPath === '/lib/modules');
  assert.ok(mount, '/lib/modules is mounted');
  assert.is(mount!.readOnly, true);
  const volume = daemonSet.spec.template.spec.volumes.find((v) => v.name === mount!.name);
  assert.is(volume?.hostPath?.path, '/lib/modules');
});

test('the image it names is the one the build script and README tell users to build and push', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(`build-image.sh --tag ${agent.image} `), `README builds ${agent.image}`);
  assert.ok(readme.includes(`podman push ${agent.image}`), `README pushes ${agent.image}`);
});

test.run();
