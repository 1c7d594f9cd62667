import { expect, it, vi } from 'vitest'
import { main } from './proxy.js'

it('example 08: least-connections spreads the pool, and a killed replica is failed over', async () => {
  const lines: string[] = []
  vi.spyOn(console, 'log').mockImplementation((line: string) => {
    lines.push(line)
  })
  const summary = await main(6)
  expect(summary).toEqual({
    before: 'kv-1 ×2, kv-2 ×2, kv-3 ×2',
    after: 'kv-1 ×3, kv-3 ×3',
    value: 'alice',
    failovers: 2,
  })
  expect(lines).toContain('kv-2 killed; 2 pooled connections lost')
  expect(lines.filter((l) => l.includes('failover: kv-2 ECONNREFUSED'))).toHaveLength(2)
  expect(lines.find((l) => l.trim().startsWith('kv-2:'))).toMatch(/2 connections, 2 refused/)
})
