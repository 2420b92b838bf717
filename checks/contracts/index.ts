/** Data contracts as YAML: the contract-file schema and loader, and the compiler to asset checks. */
import { fileURLToPath } from 'node:url';

export * from './schema.ts';
export * from './compile.ts';

/** Paths of the contracts shipped here. */
export const CONTRACT_FILES = {
  canonical_bar: fileURLToPath(new URL('./canonical_bar.yaml', import.meta.url)),
  price_data: fileURLToPath(new URL('./price_data.yaml', import.meta.url)),
} as const;
