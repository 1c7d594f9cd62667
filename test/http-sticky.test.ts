/**
 * Affinity through the HTTP proxy: sticky cookies (an opaque value that pins a client to the
 * backend that first served it, kept while the backend drains, dropped and reissued when it is
 * disabled or removed, and ignored when forged) and consistent hashing on a request header.
 */
import { createBalancer } from '@fulcrum/core'
import { type HttpKeyContext, keyFromHeader, ringHash, roundRobin } from '@fulcrum/strategies'
import { afterEach, describe, expect, it } from 'vitest'
import { cookieOf, type Fetched, HttpHarness, servedBy, type TestBackend } from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

/** RFC 6265 §4.1.1 cookie-octet. */
const COOKIE_OCTETS = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/

async function sticky(secret?: string) {
  const bs = await h.backends(3)
  const lb = createBalancer()
    .backends(bs.map((b) => b.url))
    .strategy(roundRobin())
    .build()
  const p = await h.proxy(lb, {
    sticky: secret === undefined ? { cookie: 'srv' } : { cookie: 'srv', secret },
  })
  const get = (cookie?: string): Promise<Fetched> =>
    h.get(`${p.url}/page`, cookie === undefined ? {} : { cookie })
  return { bs, lb, p, get }
}

/** The sticky cookie a response sets (fails the test when there is none). */
function srv(res: Fetched): string {
  const c = cookieOf(res, 'srv')
  expect(c, 'a Set-Cookie for srv').toBeDefined()
  return c!.value
}

/** One cookieless request per backend (round robin): backend name → cookie value. */
async function cookiesOfEach(get: (cookie?: string) => Promise<Fetched>, count: number) {
  const byBackend = new Map<string, string>()
  for (let i = 0; i < count; i++) {
    const res = await get()
    byBackend.set(servedBy(res)!, srv(res))
  }
  return byBackend
}

/** Which backends served `n` requests made with `cookie`. */
async function servedWith(get: (cookie?: string) => Promise<Fetched>, cookie: string | undefined, n: number) {
  const served: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await get(cookie)
    expect(res.status).toBe(200)
    served.push(servedBy(res)!)
  }
  return served
}

describe('sticky cookies', () => {
  it('the first response sets an opaque cookie that reveals no address or id', async () => {
    const { bs, lb, get } = await sticky()
    const res = await get()
    expect(res.status).toBe(200)
    const c = cookieOf(res, 'srv')!
    expect(c).toBeDefined()
    expect(c.value).toMatch(COOKIE_OCTETS)
    expect(c.value.length).toBeGreaterThanOrEqual(8)
    const decoded = [
      c.value,
      decodeURIComponent(c.value),
      Buffer.from(c.value, 'base64url').toString('latin1'),
      Buffer.from(c.value, 'base64').toString('latin1'),
      Buffer.from(c.value, 'hex').toString('latin1'),
    ]
    const secrets = [
      '127.0.0.1',
      ...bs.map((b) => String(b.port)),
      ...bs.map((b) => b.name),
      ...lb.backends().map((b) => b.id),
    ]
    for (const text of decoded) for (const s of secrets) expect(text).not.toContain(s)
    // RFC 6265 attributes with the documented defaults.
    const attrs = c.attributes.map((a) => a.toLowerCase())
    expect(attrs).toContain('path=/')
    expect(attrs).toContain('httponly')
    expect(attrs).toContain('samesite=lax')
  })

  it('20 requests with the cookie all reach the backend that set it', async () => {
    const { get } = await sticky()
    const first = await get()
    const cookie = `srv=${srv(first)}`
    expect(await servedWith(get, cookie, 20)).toEqual(Array(20).fill(servedBy(first)))
  })

  it('each backend has its own cookie, and each cookie pins its backend', async () => {
    const { get } = await sticky()
    const cookies = await cookiesOfEach(get, 3)
    expect([...cookies.keys()].sort()).toEqual(['b0', 'b1', 'b2'])
    expect(new Set(cookies.values()).size).toBe(3)
    for (const [backend, value] of cookies)
      expect(await servedWith(get, `srv=${value}`, 5)).toEqual(Array(5).fill(backend))
  })

  it('the cookie is found among other cookies, which still reach the backend', async () => {
    const { bs, get } = await sticky()
    const first = await get()
    const name = servedBy(first)!
    const served = await servedWith(get, `theme=dark; srv=${srv(first)}; lang=en`, 6)
    expect(served).toEqual(Array(6).fill(name))
    const backend = bs.find((b) => b.name === name)!
    const last = backend.requests.at(-1)!
    expect(String(last.headers.cookie)).toContain('theme=dark')
    expect(String(last.headers.cookie)).toContain('lang=en')
  })

  it('a forged or unknown value falls back to the strategy and a valid cookie is issued', async () => {
    const { get } = await sticky()
    const cookies = await cookiesOfEach(get, 3)
    for (const forged of ['forged', 'AAAAAAAAAAAAAAAAAAAAAA', `${[...cookies.values()][0]}x`]) {
      const res = await get(`srv=${forged}`)
      expect(res.status).toBe(200)
      const reissued = srv(res)
      expect(reissued).not.toBe(forged)
      // The new cookie is the one of the backend that served the request, and it pins it.
      expect(reissued).toBe(cookies.get(servedBy(res)!))
      expect(await servedWith(get, `srv=${reissued}`, 3)).toEqual(Array(3).fill(servedBy(res)))
    }
  })

  it('a draining backend keeps its sticky clients; clients without the cookie go elsewhere', async () => {
    const { lb, bs, get } = await sticky()
    const first = await get()
    const name = servedBy(first)!
    const cookie = `srv=${srv(first)}`
    const id = lb.backends()[bs.findIndex((b) => b.name === name)]!.id
    lb.drain(id)
    expect(await servedWith(get, cookie, 10)).toEqual(Array(10).fill(name))
    const fresh = await servedWith(get, undefined, 10)
    expect(fresh).not.toContain(name)
  })

  it.each(['disable', 'remove'] as const)(
    'after %s, the cookie falls back and is reissued',
    async (action) => {
      const { lb, bs, get } = await sticky()
      const first = await get()
      const name = servedBy(first)!
      const value = srv(first)
      const id = lb.backends()[bs.findIndex((b) => b.name === name)]!.id
      if (action === 'disable') lb.disable(id)
      else lb.remove(id)
      const res = await get(`srv=${value}`)
      expect(res.status).toBe(200)
      const moved = servedBy(res)!
      expect(moved).not.toBe(name)
      const reissued = srv(res)
      expect(reissued).not.toBe(value)
      expect(await servedWith(get, `srv=${reissued}`, 5)).toEqual(Array(5).fill(moved))
    },
  )

  it('proxies sharing a secret share stickiness; another secret does not know the cookie', async () => {
    const bs = await h.backends(3)
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(roundRobin())
      .build()
    const p1 = await h.proxy(lb, { sticky: { cookie: 'srv', secret: 'shared secret' } })
    const p2 = await h.proxy(lb, { sticky: { cookie: 'srv', secret: 'shared secret' } })
    const p3 = await h.proxy(lb, { sticky: { cookie: 'srv', secret: 'another secret' } })
    const first = await h.get(`${p1.url}/`)
    const name = servedBy(first)!
    const value = srv(first)
    for (let i = 0; i < 5; i++) {
      const res = await h.get(`${p2.url}/`, { cookie: `srv=${value}` })
      expect(servedBy(res)).toBe(name)
    }
    // p2 issues the same value for the same backend.
    let issued: string | undefined
    for (let i = 0; i < 3 && issued === undefined; i++) {
      const res = await h.get(`${p2.url}/`)
      if (servedBy(res) === name) issued = srv(res)
    }
    expect(issued).toBe(value)
    const other = await h.get(`${p3.url}/`, { cookie: `srv=${value}` })
    expect(other.status).toBe(200)
    expect(srv(other)).not.toBe(value)
  })
})

describe('consistent hashing through the proxy', () => {
  async function hashed() {
    const bs = await h.backends(3)
    const lb = createBalancer<HttpKeyContext>()
      .backends(bs.map((b) => b.url))
      .strategy(ringHash({ key: keyFromHeader('x-user') }))
      .build()
    const p = await h.proxy(lb)
    const served = async (user: string | undefined): Promise<string> => {
      const res = await h.get(`${p.url}/u`, user === undefined ? {} : { 'x-user': user })
      expect(res.status).toBe(200)
      return servedBy(res)!
    }
    return { bs, lb, p, served }
  }

  it('requests with the same x-user reach the same backend', async () => {
    const { served } = await hashed()
    const owner = new Map<string, string>()
    for (let round = 0; round < 5; round++)
      for (let u = 0; u < 30; u++) {
        const user = `user-${u}`
        const b = await served(user)
        if (round === 0) owner.set(user, b)
        else expect(b, user).toBe(owner.get(user))
      }
    expect(new Set(owner.values()).size).toBeGreaterThan(1)
  })

  it('a request without the header is still served', async () => {
    const { served } = await hashed()
    expect(['b0', 'b1', 'b2']).toContain(await served(undefined))
  })

  it('disabling a backend moves only its users, each to one new backend', async () => {
    const { bs, lb, served } = await hashed()
    const before = new Map<string, string>()
    for (let u = 0; u < 30; u++) before.set(`user-${u}`, await served(`user-${u}`))
    const victim = before.get('user-0')!
    lb.disable(lb.backends()[bs.findIndex((b: TestBackend) => b.name === victim)]!.id)
    for (const [user, was] of before) {
      const now = await served(user)
      if (was === victim) {
        expect(now).not.toBe(victim)
        expect(await served(user), user).toBe(now)
      } else expect(now, user).toBe(was)
    }
  })
})
