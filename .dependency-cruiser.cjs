// Which folder may import which (`npm run lint:deps`, run by `npm test`); docs/DEVELOPING.md draws the same layers.
//
// src/ follows the flow. A folder may import itself, the leaves (src/errors.ts, src/timings.ts, net/, abi/, asm/) and the folders in
// its parentheses, which all come before it in this list; never one that comes after it. So the graph is one-way.
//   leaves     errors.ts, timings.ts < net < abi < asm: no stage, no I/O (timings.ts: stage times on stderr when
//              NOTRACK_TIMINGS is set); anything may import them
//   source     Git: the files of one commit
//   model      YAML, schemas, semantic checks, selectors          (source)
//   compile    DesiredState, reference evaluator, policy program  (model, source)
//   traffic    the packet-space engine: traffic diffs, exact lint    (compile, model, source)
//   libbpf     the FFI binding over libbpf.so.1, nothing else      (leaves only)
//   dataplane  the host: BPF objects and links, tc, iptables, ipsets (libbpf, compile, model)
//   agent      the long-running runtime: knows no Git, no kernel    (leaves only)
//   reconcile  one host's reconcile: the agent's Reconciler          (agent, dataplane, libbpf, compile, model, source)
//   fleet      the fleet's state from the agents' metrics in Prometheus (source)
//   publish    posting reports where people review: pull-request comments (leaves only)
//   report     plans, diagnostics, runs, status as text, JSON ...   (fleet, reconcile, dataplane, traffic, compile, model, source)
//   demo       the lab of network namespaces                        (model, source)
//   cli        one file per command                                 (everything above)
// bench/ and test/ may import src/; src/ imports neither.

/** The leaf modules every folder of src/ may import. */
const LEAVES = ['errors\\.ts$', 'timings\\.ts$', 'net/', 'abi/', 'asm/'];

/** The leaf folders and the leaves each may import besides itself and src/errors.ts. */
const LEAF_LAYERS = { net: [], abi: ['net'], asm: ['net', 'abi'] };

/** The folders of src/ and the folders each may import besides itself and the leaves. */
const LAYERS = {
  source: [],
  model: ['source'],
  compile: ['model', 'source'],
  traffic: ['compile', 'model', 'source'],
  libbpf: [],
  dataplane: ['libbpf', 'compile', 'model'],
  agent: [],
  reconcile: ['agent', 'dataplane', 'libbpf', 'compile', 'model', 'source'],
  fleet: ['source'],
  publish: [],
  report: ['fleet', 'reconcile', 'dataplane', 'traffic', 'compile', 'model', 'source'],
  demo: ['model', 'source'],
  cli: [
    'report',
    'publish',
    'fleet',
    'reconcile',
    'agent',
    'dataplane',
    'libbpf',
    'traffic',
    'compile',
    'model',
    'source',
    'demo',
  ],
};

function layerRule(name, mayImport, leaves) {
  const targets = [`${name}/`, ...mayImport.map((l) => `${l}/`), ...leaves];
  return {
    from: { path: `^src/${name}/` },
    to: { path: `^src/(${targets.join('|')})` },
  };
}

module.exports = {
  allowedSeverity: 'error',
  allowed: [
    ...Object.entries(LEAF_LAYERS).map(([name, mayImport]) =>
      layerRule(name, [], ['errors\\.ts$', 'timings\\.ts$', ...mayImport.map((l) => `${l}/`)]),
    ),
    ...Object.entries(LAYERS).map(([name, mayImport]) => layerRule(name, mayImport, LEAVES)),
    // Node's own modules and the runtime dependencies of package.json (the forbidden rules below narrow them).
    { from: { path: '^src/' }, to: { dependencyTypes: ['core', 'npm'] } },
    // The command run from the TypeScript sources is an entry point like bin/notrack.js: it starts the CLI.
    { from: { path: '^src/demo/notrack-process\\.ts$' }, to: { path: '^src/cli/main\\.ts$' } },
    // Benchmarks and tests sit on top: they may use the product and the test harnesses.
    { from: { path: '^bench/' }, to: { path: '^(src/|bench/|test/support/)' } },
    { from: { path: '^bench/' }, to: { dependencyTypes: ['core', 'npm', 'npm-dev'] } },
    { from: { path: '^test/' }, to: { path: '^(src/|test/)' } },
    // The one clang recipe for BPF objects, shared by the build script and the tests that compile C.
    { from: { path: '^test/' }, to: { path: '^scripts/bpf-clang\\.mjs$' } },
    { from: { path: '^test/' }, to: { dependencyTypes: ['core', 'npm', 'npm-dev'] } },
  ],
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A module cycle: the layers above keep the graph one-way.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-product-to-test',
      severity: 'error',
      comment: 'Product code stands alone: test and bench use src, never the reverse.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-dev-dependencies-in-src',
      severity: 'error',
      comment: 'src/ runs where only the runtime dependencies are installed.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'no-unlisted-packages',
      severity: 'error',
      comment: 'Every package src/, test/ and bench/ import is in package.json.',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown', 'unknown', 'undetermined'] },
    },
    {
      name: 'ffi-only-in-libbpf',
      severity: 'error',
      comment: 'The kernel binding is the one place that loads libbpf.so.1.',
      from: { path: '^src/', pathNot: '^src/libbpf/' },
      to: { path: '^node_modules/koffi/' },
    },
    {
      name: 'processes-behind-one-runner',
      severity: 'error',
      comment: 'Programs (tc, iptables, ipset) run through src/dataplane/command-runner.ts; the lab runs its own.',
      from: { path: '^src/', pathNot: '^src/(dataplane/command-runner\\.ts|demo/)' },
      to: { path: '^(node:)?child_process$' },
    },
  ],
  options: {
    doNotFollow: { path: '^node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
