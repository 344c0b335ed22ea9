/**
 * `npx tsx test/bench/raw/cluster-pubsub.ts [messages]`: classic pub/sub (PUBLISH, which a Redis
 * Cluster broadcasts to every node) against sharded pub/sub (SPUBLISH, kept on the channel's slot's
 * node) on a local 3-master cluster, in the two shapes the shop uses: the reply bus (one channel,
 * every API process subscribed) and the live order status (one channel per watched order). Prints
 * messages/s and each node's CPU seconds and commands, so the difference in work per node shows.
 */
import { Cluster } from 'ioredis';
import { nodeCommand } from '../../support/private-redis';
import { startRedisCluster } from '../../support/redis-cluster';

const MESSAGES = Number(process.argv[2] ?? 20_000);
const ORDERS = 200;

async function nodeStats(ports: number[]) {
  return Promise.all(
    ports.map(async (port) => {
      const info = String(await nodeCommand(port, ['INFO', 'all']));
      const field = (name: string) => Number(info.match(new RegExp(`${name}:([\\d.]+)`))?.[1] ?? 0);
      return {
        cpu: field('used_cpu_user') + field('used_cpu_sys'),
        commands: field('total_commands_processed'),
      };
    }),
  );
}

async function measure(
  label: string,
  ports: number[],
  seeds: { host: string; port: number }[],
  sharded: boolean,
  channels: string[],
) {
  const subscriber = new Cluster(seeds, { shardedSubscribers: sharded });
  const publisher = new Cluster(seeds, { enableAutoPipelining: true });
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const onMessage = () => {
    received += 1;
    if (received === MESSAGES) done();
  };
  subscriber.on(sharded ? 'smessage' : 'message', onMessage);
  for (const channel of channels) {
    if (sharded) await subscriber.ssubscribe(channel);
    else await subscriber.subscribe(channel);
  }
  const before = await nodeStats(ports);
  const started = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const channel = channels[i % channels.length]!;
    sends.push(sharded ? publisher.spublish(channel, 'x') : publisher.publish(channel, 'x'));
    if (sends.length === 500) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  await all;
  const seconds = (performance.now() - started) / 1000;
  const after = await nodeStats(ports);
  const perNode = after.map((a, i) => ({
    cpuMs: Math.round((a.cpu - before[i]!.cpu) * 1000),
    commands: a.commands - before[i]!.commands,
  }));
  console.log(
    `${label.padEnd(34)} ${Math.round(MESSAGES / seconds)
      .toString()
      .padStart(
        7,
      )} msg/s  node CPU ms ${perNode.map((n) => n.cpuMs).join(' / ')}  (sum ${perNode.reduce((s, n) => s + n.cpuMs, 0)})`,
  );
  subscriber.disconnect();
  publisher.disconnect();
}

async function main() {
  const cluster = await startRedisCluster({ masters: 3 });
  try {
    const ports = cluster.nodes.map((n) => n.port);
    const seeds = ports.map((port) => ({ host: '127.0.0.1', port }));
    const orderChannels = Array.from({ length: ORDERS }, (_, i) => `shop:order-status:{o${i}}`);
    console.log(`${MESSAGES} messages, 3 masters`);
    for (let round = 0; round < 2; round++) {
      await measure('reply bus, PUBLISH', ports, seeds, false, ['shop:replies']);
      await measure('reply bus, SPUBLISH', ports, seeds, true, ['shop:replies']);
      await measure(`order status x${ORDERS}, PUBLISH`, ports, seeds, false, orderChannels);
      await measure(`order status x${ORDERS}, SPUBLISH`, ports, seeds, true, orderChannels);
    }
  } finally {
    await cluster.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
