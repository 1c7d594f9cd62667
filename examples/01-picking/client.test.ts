import { expect, it, vi } from 'vitest'
import { main } from './client.js'

it('example 01: every call succeeds thanks to retries, and the slow server gets the least', async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {})
  const answers = await main(300, 16)
  const total = Object.values(answers).reduce((a, b) => a + b, 0)
  expect(total).toBe(300)
  expect(answers['PONG b']).toBe(100)
  expect(answers['PONG c'] ?? 0).toBeLessThan(answers['PONG a'] ?? 0)
})
