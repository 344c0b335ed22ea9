import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeListeningPort, isPortFree } from './ports';
import { nodeCommand } from './private-redis';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  /** Kills the server (SIGKILL: no goodbye to the cluster, as a crashed host). */
  kill: () => Promise<void>;
  /** SIGKILL without waiting (process exit). */
  killNow: () => void;
  /** Starts it again with its node id and slot map (nodes.conf), without data (no persistence). */
  start: () => Promise<void>;
}

export interface LocalRedisCluster {
  /** REDIS_CLUSTER_NODES of the masters it was created with: `127.0.0.1:p1,127.0.0.1:p2,…`. */
  nodesEnv: string;
  nodes: ClusterNode[];
  /** Port → role and slot ranges, as the cluster sees it now (CLUSTER SHARDS from a live node). */
  roles: () => Promise<Map<number, 'master' | 'replica'>>;
  /** Waits until every live node reports cluster_state:ok and every slot is served. */
  waitUntilHealthy: (timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * A local Redis Cluster of the test's own: `masters` redis-server processes in cluster mode (plus
 * `replicasPerMaster` replicas each) on free ports, joined with `redis-cli --cluster create`. No
 * persistence; a short node timeout (1 s) so a killed master's replica takes over within seconds.
 * Fails loudly when redis-server or redis-cli is missing: a cluster test never skips silently.
 */
export async function startRedisCluster(
  options: { masters?: number; replicasPerMaster?: number } = {},
): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'shop-redis-cluster-'));
  const ports: number[] = [];
  while (ports.length < masters * (1 + replicas)) {
    const port = await freeListeningPort();
    // The cluster bus listens on port + 10000: free too, and below the ephemeral range (32768+),
    // where the suite's own client sockets could take it before the server binds.
    if (port + 10_000 < 32_768 && !ports.includes(port) && (await isPortFree(port + 10_000)))
      ports.push(port);
  }
  const nodes = ports.map((port) => clusterNode(port, dir));
  // A test file that dies or times out before stop() leaves no server behind.
  process.once('exit', () => {
    for (const node of nodes) node.killNow();
  });
  try {
    await Promise.all(nodes.map((node) => node.start()));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a local Redis Cluster: ${String(error)}`);
  }
  const cluster: LocalRedisCluster = {
    nodesEnv: ports
      .slice(0, masters)
      .map((port) => `127.0.0.1:${port}`)
      .join(','),
    nodes,
    roles: async () => {
      const roles = new Map<number, 'master' | 'replica'>();
      for (const port of ports) {
        const info = await nodeCommand(port, ['ROLE']).catch(() => undefined);
        if (Array.isArray(info)) roles.set(port, info[0] === 'master' ? 'master' : 'replica');
      }
      return roles;
    },
    waitUntilHealthy: async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          ports.map((port) => nodeCommand(port, ['CLUSTER', 'INFO']).catch(() => undefined)),
        );
        const live = states.filter((state): state is string => typeof state === 'string');
        const replication = await Promise.all(
          ports.map((port) => nodeCommand(port, ['INFO', 'replication']).catch(() => '')),
        );
        // A replica counts once it holds its master's data (the link is up), not merely configured.
        const replicasInSync = replication.every(
          (info) => !String(info).includes('role:slave') || String(info).includes('master_link_status:up'),
        );
        if (
          live.length > 0 &&
          replicasInSync &&
          live.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'))
        )
          return;
        if (Date.now() > deadline)
          throw new Error(`cluster not healthy after ${timeoutMs} ms: ${live.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop: async () => {
      await Promise.all(nodes.map((node) => node.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.waitUntilHealthy();
  return cluster;
}

function clusterNode(port: number, dir: string): ClusterNode {
  let server: ChildProcess | undefined;
  return {
    port,
    start: async () => {
      server = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          // Replicas sync over the socket at once, and may take over whatever their data's age.
          '--repl-diskless-sync',
          'yes',
          '--repl-diskless-sync-delay',
          '0',
          '--cluster-replica-validity-factor',
          '0',
        ],
        { stdio: 'ignore' },
      );
      const spawned = server;
      const failed = new Promise<never>((_, reject) =>
        spawned.once('error', (error) => reject(new Error(`redis-server: ${String(error)}`))),
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const pong = await Promise.race([nodeCommand(port, ['PING']).catch(() => undefined), failed]);
        if (pong === 'PONG') return;
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    killNow: () => {
      if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    },
    kill: async () => {
      if (!server || server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGKILL');
      await exited;
    },
  };
}
