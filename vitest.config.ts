import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['@fulcrum/source'] },
  ssr: { resolve: { conditions: ['@fulcrum/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
})
