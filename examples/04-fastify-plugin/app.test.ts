import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Running, start } from './app.js'

let app: Running
beforeAll(async () => {
  app = await start(0)
})
afterAll(() => app.close())

it('example 04: Fastify serves its own routes, with its JSON parser', async () => {
  const res = await fetch(`${app.url}/health`)
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual({ ok: true, backends: 3 })
  const note = await fetch(`${app.url}/notes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'hi' }),
  })
  expect(note.status).toBe(201)
  expect(await note.json()).toEqual({ saved: { text: 'hi' } })
})

it('example 04: /api is proxied with the prefix stripped, round-robin over the three services', async () => {
  const seen: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${app.url}/api/users/42?full=1`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { service: string; path: string }
    expect(body.path).toBe('/users/42?full=1')
    seen.push(body.service)
  }
  expect(seen.sort()).toEqual(['users-1', 'users-2', 'users-3'])
})

it('example 04: a POST with a JSON body goes through the proxy unparsed', async () => {
  const raw = '{ "item": "book",   "qty": 2 }' // spacing kept: the proxy's context parses nothing
  const res = await fetch(`${app.url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw,
  })
  expect(res.status).toBe(200)
  expect(await res.json()).toMatchObject({ method: 'POST', path: '/orders', body: raw })
})

it('example 04: the app’s onRequest hook runs before the proxy', async () => {
  const res = await fetch(`${app.url}/api/admin/users`)
  expect(res.status).toBe(403)
  expect(await res.json()).toEqual({ error: 'forbidden' })
})
