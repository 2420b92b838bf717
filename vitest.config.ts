import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql has no "exports": Node loads its CommonJS build for yoga and Pothos, while Vite's resolver
    // would give our files the `.mjs` one — and graphql refuses types from "another realm". One copy.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: keep workers few so Postgres/PGlite suites don't starve each other.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: 'forks',
  },
});
