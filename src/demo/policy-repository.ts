// The lab's policy repository: a bare Git repository that the Git server serves, and a working clone beside it
// through which the lab publishes a folder and pushes later changes, as a person would.
import { cp, mkdir, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runCommand } from './command.js';

export interface PolicyRepositoryOptions {
  /** The folder of bare repositories the Git server serves; the repository is `<projectRoot>/<name>.git`. */
  projectRoot: string;
  /** A folder for the working clone. */
  workDir: string;
  /** HOME for git, so no user configuration applies. */
  home: string;
  name: string;
  branch: string;
}

export class PolicyRepository {
  readonly name: string;
  readonly branch: string;
  /** The bare repository's folder. */
  readonly path: string;
  private readonly work: string;
  private readonly home: string;
  // Commit dates come from a counter: two commits of the same tree in one second still get distinct ids.
  private clock = Math.floor(Date.now() / 1000);

  private constructor(opts: PolicyRepositoryOptions) {
    this.name = opts.name;
    this.branch = opts.branch;
    this.path = join(opts.projectRoot, `${opts.name}.git`);
    this.work = join(opts.workDir, opts.name);
    this.home = opts.home;
  }

  /** Creates the bare repository (no commits yet) and its working clone. */
  static async create(opts: PolicyRepositoryOptions): Promise<PolicyRepository> {
    const repo = new PolicyRepository(opts);
    await mkdir(opts.projectRoot, { recursive: true });
    await mkdir(opts.workDir, { recursive: true });
    await repo.git(['init', '--quiet', '--bare', `--initial-branch=${opts.branch}`, repo.path], opts.projectRoot);
    // A client may ask for a commit by id, not only for a branch tip (a pinned --ref).
    await repo.git(['config', 'uploadpack.allowAnySHA1InWant', 'true'], repo.path);
    // Pushes are kept as packs, as a forge keeps them: git's default unpacks a push of fewer than 100 objects, and
    // then every fetch of it makes the server compress those objects again (20 MB of deny lists: seconds of the
    // server's CPU that the control-plane bench would count as the host's fetch).
    await repo.git(['config', 'receive.unpackLimit', '1'], repo.path);
    await repo.git(['init', '--quiet', `--initial-branch=${opts.branch}`, repo.work], opts.workDir);
    await repo.git(['remote', 'add', 'origin', repo.path], repo.work);
    return repo;
  }

  private async git(args: string[], cwd: string): Promise<string> {
    this.clock += 1;
    const date = `${this.clock} +0000`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'notrack demo',
      GIT_AUTHOR_EMAIL: 'demo@notrack.invalid',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: 'notrack demo',
      GIT_COMMITTER_EMAIL: 'demo@notrack.invalid',
      GIT_COMMITTER_DATE: date,
    };
    return (await runCommand(['git', ...args], { cwd, env })).stdout;
  }

  private async commitAndPush(message: string): Promise<string> {
    await this.git(['add', '--all'], this.work);
    await this.git(['commit', '--quiet', '--allow-empty', '-m', message], this.work);
    await this.git(['push', '--quiet', 'origin', `HEAD:refs/heads/${this.branch}`], this.work);
    return (await this.git(['rev-parse', 'HEAD'], this.work)).trim();
  }

  /** Makes the branch hold exactly the files of `folder` (one new commit); returns the commit id. */
  async publishFolder(folder: string, message: string): Promise<string> {
    for (const entry of await readdir(this.work)) {
      if (entry !== '.git') await rm(join(this.work, entry), { recursive: true, force: true });
    }
    // The folder itself may be a symbolic link (a checkout elsewhere); its contents are what gets published.
    const source = await realpath(folder);
    await cp(source, this.work, {
      recursive: true,
      filter: (src) => !src.slice(source.length).split('/').includes('.git'),
    });
    return this.commitAndPush(message);
  }

  /** One new commit on the branch: each file is written, or deleted when its content is null. */
  async commit(files: Record<string, string | null>, message: string): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      if (content === null) {
        await rm(full, { force: true });
      } else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
    }
    return this.commitAndPush(message);
  }

  /** The commit the branch points at on the server side. */
  async head(): Promise<string> {
    return (await this.git(['rev-parse', `refs/heads/${this.branch}`], this.path)).trim();
  }
}
