/**
 * The load scenarios of the HTTP benchmark: wrk with 64 or 256 keep-alive connections asking for a
 * 2-byte body (`GET /`, `ok`) or a 16 KiB body (`GET /16k`), and the environment's subset of them.
 */

export type ScenarioId = 'c64-2b' | 'c64-16k' | 'c256-2b' | 'c256-16k'

export interface Scenario {
  readonly id: ScenarioId
  /** Concurrent client connections (`wrk -c`). */
  readonly connections: number
  /** Request path on the proxy: `/` answers `ok`, `/16k` answers {@link BODY_16K} bytes. */
  readonly path: '/' | '/16k'
  /** Response body size in bytes. */
  readonly bodyBytes: number
}

/** Size of the large body. */
export const BODY_16K = 16 * 1024

export const SCENARIOS: readonly Scenario[] = [
  { id: 'c64-2b', connections: 64, path: '/', bodyBytes: 2 },
  { id: 'c64-16k', connections: 64, path: '/16k', bodyBytes: BODY_16K },
  { id: 'c256-2b', connections: 256, path: '/', bodyBytes: 2 },
  { id: 'c256-16k', connections: 256, path: '/16k', bodyBytes: BODY_16K },
]

/** The scenario the profile and the warm-up runs use. */
export const PROFILE_SCENARIO: Scenario = SCENARIOS[0]!

/** Human label of a scenario, e.g. ``64 connections, `GET /`, 2 B body``. */
export function scenarioLabel(s: Scenario): string {
  const body = s.bodyBytes === 2 ? '2 B' : `${s.bodyBytes / 1024} KiB`
  return `${s.connections} keep-alive connections, \`GET ${s.path}\`, ${body} body`
}

/**
 * Keeps the items whose name is in a comma-separated list (all of them when the list is empty or
 * undefined); throws on a name that is not known, so that a typo does not silently run nothing.
 */
export function pick<T>(
  all: readonly T[],
  name: (t: T) => string,
  list: string | undefined,
  what: string,
): T[] {
  const wanted = (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (wanted.length === 0) return [...all]
  const unknown = wanted.filter((w) => !all.some((t) => name(t) === w))
  if (unknown.length > 0)
    throw new Error(`unknown ${what} ${unknown.join(', ')} (known: ${all.map(name).join(', ')})`)
  return all.filter((t) => wanted.includes(name(t)))
}
