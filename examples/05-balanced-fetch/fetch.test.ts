import { expect, it, vi } from 'vitest'
import { main } from './fetch.js'

it('example 05: every fetch succeeds; the dead and the overloaded backends are failed over', async () => {
  const lines: string[] = []
  vi.spyOn(console, 'log').mockImplementation((line: string) => {
    lines.push(line)
  })
  const summary = await main(60)
  expect(summary.ok).toBe(60)
  expect(summary.failed).toBe(0)
  expect(summary.servedBy['users-1']! + summary.servedBy['users-2']!).toBe(60)
  expect(summary.servedBy['users-3']).toBeUndefined()
  expect(summary.retries).toBeGreaterThan(0)
  expect(summary.viaGlobal).toMatch(/^users-[12]$/)
  expect(lines.find((l) => l.trim().startsWith('users-3:'))).toMatch(
    /0 ok, \d+ failed \(last: connect\), in flight 0/,
  )
  expect(lines.find((l) => l.trim().startsWith('users-2:'))).toMatch(/failed \(last: status\)/)
})
