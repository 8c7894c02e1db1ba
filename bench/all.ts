/**
 * `npm run bench [-- --quick]`: the management-API scenarios, the browser forgot scenarios, the notification engine's,
 * then the post-challenge actions', same flags.
 */
import { spawnSync } from 'node:child_process';

for (const script of ['bench/run.ts', 'bench/forgot.ts', 'bench/notifications.ts', 'bench/actions.ts']) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
