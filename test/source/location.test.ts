// How repository locations are understood and shown: credentials stripped, default ports, where the cache lives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultCacheDir } from '../../src/source/index.js';
import { locateRepo } from '../../src/source/repo-location.js';

test('a URL with credentials is shown and cached without them, with the port messages will name', () => {
  const loc = locateRepo('https://x-access-token:ghp_secretvalue@git.example.com/acme/policies.git');
  assert.equal(loc, {
    kind: 'remote',
    url: 'https://git.example.com/acme/policies.git',
    hostPort: 'git.example.com:443',
    urlCredentials: { username: 'x-access-token', password: 'ghp_secretvalue' },
  });
  const plain = locateRepo('http://10.0.0.5:8080/p.git/');
  assert.equal(plain.kind === 'remote' && [plain.url, plain.hostPort, plain.urlCredentials], [
    'http://10.0.0.5:8080/p.git',
    '10.0.0.5:8080',
    null,
  ]);
});

test('paths and file: URLs are local repositories, resolved to absolute paths', () => {
  assert.equal(locateRepo('policies'), { kind: 'local', path: resolve('policies') });
  assert.equal(locateRepo('file:///srv/git/policies.git'), { kind: 'local', path: '/srv/git/policies.git' });
});

test('the default cache folder follows XDG_CACHE_HOME, else ~/.cache', () => {
  assert.is(defaultCacheDir({ XDG_CACHE_HOME: '/var/cache/me' }), '/var/cache/me/notrack/git');
  assert.is(defaultCacheDir({}), join(homedir(), '.cache', 'notrack', 'git'));
  assert.is(defaultCacheDir({ XDG_CACHE_HOME: '' }), join(homedir(), '.cache', 'notrack', 'git'));
});

test.run();
