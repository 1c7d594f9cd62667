import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Running, start } from './app.js'

let app: Running
beforeAll(async () => {
  app = await start(0)
})
afterAll(() => app.close())

it('example 03: Express serves its own routes', async () => {
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

it('example 03: /api is proxied with the mount path stripped, round-robin over the three services', async () => {
  const seen: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${app.url}/api/users/42?full=1`)
    expect(res.status).toBe(200)
    expect(res.headers.get('via')).toBeNull() // Via goes upstream, not back to the client
    const body = (await res.json()) as { service: string; path: string }
    expect(body.path).toBe('/users/42?full=1')
    seen.push(body.service)
  }
  expect(seen.sort()).toEqual(['users-1', 'users-2', 'users-3'])
})

it('example 03: a POST with a JSON body goes through the proxy unchanged', async () => {
  const order = { item: 'book', qty: 2 }
  const res = await fetch(`${app.url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(order),
  })
  expect(res.status).toBe(200)
  const body = (await res.json()) as { method: string; path: string; body: string }
  expect(body).toMatchObject({ method: 'POST', path: '/orders' })
  expect(JSON.parse(body.body)).toEqual(order)
})
