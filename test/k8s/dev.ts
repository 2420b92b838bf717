/** `npm run k8s:dev`: the API double plus a simulated 2-GPU node on loopback. Prints the
 * kubeconfig path on stdout (one line), logs to stderr, runs until SIGINT/SIGTERM. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiDouble } from './api-double.ts';
import { startSimulatedNode } from './simulated-node.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
};
const quiet = process.env.ORRERY_K8S_DEV_QUIET === '1';

const double = await startApiDouble({ port: Number(process.env.ORRERY_K8S_DEV_PORT ?? 0), log: quiet ? undefined : log });
const node = await startSimulatedNode({
  kubeconfigPath: double.kubeconfigPath,
  name: 'sim-node-1',
  gpus: Number(process.env.ORRERY_K8S_DEV_GPUS ?? 2),
  workdir: repo,
  commandAliases: { orrery: [process.execPath, join(repo, 'bin', 'orrery.js')] },
  log,
});
log(`API double at ${double.url}; simulated node sim-node-1 with ${process.env.ORRERY_K8S_DEV_GPUS ?? 2} GPUs`);
log(`try: kubectl --kubeconfig ${double.kubeconfigPath} get nodes`);
process.stdout.write(`${double.kubeconfigPath}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await node.close();
  await double.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
