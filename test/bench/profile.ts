/**
 * `npm run bench:profile -- <file.cpuprofile> [options]`: a CPU profile as text, for the profiles
 * `BENCH_SHOP_NODE_ARGS="--cpu-prof --cpu-prof-dir=…" npm run bench` writes (one per shop process),
 * without opening DevTools. `--timeline` first, to find the window of the phase to look at.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type CpuProfile, summarize, timeline } from './profile-summary';

const USAGE = `npm run bench:profile -- <file.cpuprofile> [options]

  --by self             functions by the samples they ran in themselves (default)
  --by package          the same by npm package (src/, workers/, machines/, node internals, native)
  --callers <regex>     samples with a frame matching <regex> ("name@file") on the stack, by that frame
                        and its --depth callers
  --timeline            busy and idle samples per 250 ms, to find a phase's window
  --from <ms> --to <ms> only samples in this window (ms since the profile began)
  --top <n>             rows (default 30)
  --depth <n>           callers shown with --callers (default 4)
`;

function main(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      by: { type: 'string', default: 'self' },
      callers: { type: 'string' },
      timeline: { type: 'boolean', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      top: { type: 'string', default: '30' },
      depth: { type: 'string', default: '4' },
      help: { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  if (values.help || !file || !['self', 'package'].includes(values.by)) {
    process.stdout.write(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  if (values.timeline) {
    for (const { atMs, busy, idle } of timeline(profile))
      console.log(`${String(atMs).padStart(8)} ms  busy ${busy}  idle ${idle}`);
    return;
  }
  const { busy, rows } = summarize(profile, {
    by: values.callers ? 'callers' : (values.by as 'self' | 'package'),
    ...(values.callers ? { callers: new RegExp(values.callers) } : {}),
    depth: Number(values.depth),
    ...(values.from ? { fromMs: Number(values.from) } : {}),
    ...(values.to ? { toMs: Number(values.to) } : {}),
  });
  console.log(
    `${busy} busy samples${values.callers ? `, ${rows.reduce((n, r) => n + r.samples, 0)} with ${values.callers}` : ''}`,
  );
  for (const row of rows.slice(0, Number(values.top)))
    console.log(
      `${(100 * row.share).toFixed(1).padStart(5)} %  ${String(row.samples).padStart(6)}  ${row.key}`,
    );
}

main(process.argv.slice(2));
