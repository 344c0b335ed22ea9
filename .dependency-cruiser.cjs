/**
 * The layers, enforced (run by `npm run lint`): http → modules (orders, payments, catalog, …) →
 * messaging → db; workers → src, never back; machines import nothing of ours; no cycles.
 * docs/architecture.md explains the layers.
 */
const MODULES =
  '(auth|balance|cart|catalog|commands|coupons|health|notifications|observability|orders|outbox|payments|stats|statecharts|webhooks)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes the load order (and the layering) depend on who imports first.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-to-workers',
      severity: 'error',
      comment: 'Workers route jobs to src; src never reaches back (src/server.ts, a process entry, starts them).',
      from: { path: '^src/', pathNot: '^src/server\\.ts$' },
      to: { path: '^workers/' },
    },
    {
      name: 'nothing-below-http-imports-it',
      severity: 'error',
      comment: 'Only the HTTP layer and the process entry points that compose it import src/http.',
      from: { path: '^(src|workers|machines)/', pathNot: '^(src/http/|src/app\\.ts$|src/server\\.ts$|workers/main\\.ts$)' },
      to: { path: '^src/http/' },
    },
    {
      name: 'machines-are-pure',
      severity: 'error',
      comment: 'The machine imports xstate and nothing of ours: no I/O, no database, no queues.',
      from: { path: '^machines/' },
      to: { pathNot: '^(machines/|node_modules/xstate/)' },
    },
    {
      name: 'messaging-below-modules',
      severity: 'error',
      comment: 'Queues, job and event maps, the outbox and replies know no module.',
      from: { path: '^src/messaging/' },
      to: { path: `^src/${MODULES}/` },
    },
    {
      name: 'db-at-the-bottom',
      severity: 'error',
      comment: 'The database layer (orm, sql, schema, migrations) knows neither modules nor messaging.',
      from: { path: '^src/db/', pathNot: '^src/db/seed/' },
      to: { path: `^src/(${MODULES.slice(1, -1)}|messaging)/` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|test/bench)' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
