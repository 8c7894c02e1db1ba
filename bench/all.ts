/** `npm run bench [-- --quick]`: the management-API scenarios, then the browser forgot scenarios, same flags. */
import { spawnSync } from 'node:child_process';

for (const script of ['bench/run.ts', 'bench/forgot.ts']) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
