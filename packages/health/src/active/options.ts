import {
  type Backend,
  checkKeys,
  checkNumber,
  checkObject,
  checkOneOf,
  checkString,
  describeValue,
  InvalidOptionError,
  optionalFunction,
  optionalNumber,
} from '@fulcrum/core'

/**
 * Options every active health check takes (`tcpCheck()`, `httpCheck()`, `fnCheck()`).
 *
 * Timing: a backend's next check is scheduled when its current one ends (passes, fails or times
 * out), `interval × (1 + random × jitter)` later, where `interval` is `intervalMs` while the backend
 * is up and `unhealthyIntervalMs` while it is down. Checks of one backend never overlap. At start,
 * backend `i` of `n` gets its first check at `(i + random × jitter) / n × interval` (staggered over
 * one interval, HAProxy style); a backend added later gets its first check at a random offset within
 * one interval.
 *
 * @example
 * ```ts
 * const options: ActiveCheckOptions = { intervalMs: 2_000, timeoutMs: 500, rise: 2, fall: 3, unhealthyIntervalMs: 500 }
 * ```
 */
export interface ActiveCheckOptions {
  /** Time between two checks of an up backend, in ms. @default 5_000 */
  readonly intervalMs?: number
  /**
   * How long one check may take, in ms; a check still running then is aborted and counts as a
   * failure (`'timeout after N ms'`). Must be below `intervalMs` and `unhealthyIntervalMs`.
   * @default min(2_000, min(intervalMs, unhealthyIntervalMs) / 2)
   */
  readonly timeoutMs?: number
  /**
   * Time between two checks of a down backend, in ms (HAProxy `downinter`, Envoy
   * `unhealthy_interval`): shorter to notice a recovery sooner, longer to spare a struggling backend.
   * @default intervalMs
   */
  readonly unhealthyIntervalMs?: number
  /** Consecutive passed checks that bring a down backend up (an integer ≥ 1). @default 2 */
  readonly rise?: number
  /** Consecutive failed checks that bring a fully-up backend down (an integer ≥ 1). @default 3 */
  readonly fall?: number
  /**
   * The verdict before the first check. `'up'`: healthy, but unconfirmed (one failure marks it down,
   * one success confirms it; HAProxy `init-state up`). `'down'`: unhealthy (`'awaiting first check'`)
   * until one check passes (HAProxy `init-state down`); applies to backends added later too.
   * @default 'up'
   */
  readonly initialState?: 'up' | 'down'
  /**
   * Random extra delay added to every interval, as a fraction of it in [0, 0.5] (Envoy
   * `interval_jitter_percent`, HAProxy `spread-checks`), so checks of many backends drift apart.
   * @default 0.1
   */
  readonly jitter?: number
  /** The health source name passed to `setHealth()` and in `health:check` events. @default 'active:tcp' | 'active:http' | 'active:fn' */
  readonly source?: string
  /** Checks only the backends for which this returns true (others are never checked nor marked). @default every backend */
  readonly filter?: (backend: Backend) => boolean
}

/** @internal {@link ActiveCheckOptions} validated, with defaults applied. */
export interface ResolvedActiveOptions {
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly unhealthyIntervalMs: number
  readonly rise: number
  readonly fall: number
  readonly initialState: 'up' | 'down'
  readonly jitter: number
  readonly source: string
  readonly filter: ((backend: Backend) => boolean) | undefined
}

/**
 * @internal The keys of {@link ActiveCheckOptions}.
 *
 * @example
 * ```ts
 * checkKeys('myCheck', options, [...ACTIVE_OPTION_KEYS, 'port'])
 * ```
 */
export const ACTIVE_OPTION_KEYS: readonly string[] = [
  'intervalMs',
  'timeoutMs',
  'unhealthyIntervalMs',
  'rise',
  'fall',
  'initialState',
  'jitter',
  'source',
  'filter',
]

/** Longest interval accepted: one day (timers beyond 2^31 − 1 ms fire at once in Node). */
const MAX_INTERVAL_MS = 86_400_000

/**
 * @internal Validates the common options of an active check, `path` being the factory's name
 * (`'httpCheck'`), and the absence of keys outside `ACTIVE_OPTION_KEYS` + `extraKeys`.
 * Throws `InvalidOptionError` naming the option path, e.g. `httpCheck.timeoutMs`.
 *
 * @example
 * ```ts
 * const o = resolveActiveOptions('tcpCheck', options, ['port'], 'active:tcp')
 * ```
 */
export function resolveActiveOptions(
  path: string,
  value: unknown,
  extraKeys: readonly string[],
  defaultSource: string,
): ResolvedActiveOptions {
  const o = (value === undefined ? {} : value) as Record<string, unknown>
  checkObject(path, o)
  checkKeys(path, o, [...ACTIVE_OPTION_KEYS, ...extraKeys])
  const interval = { min: 0, minExclusive: true, max: MAX_INTERVAL_MS }
  const intervalMs = optionalNumber(`${path}.intervalMs`, o.intervalMs, 5_000, interval)
  const unhealthyIntervalMs = optionalNumber(
    `${path}.unhealthyIntervalMs`,
    o.unhealthyIntervalMs,
    intervalMs,
    interval,
  )
  const shortest = Math.min(intervalMs, unhealthyIntervalMs)
  let timeoutMs = Math.min(2_000, shortest / 2)
  if (o.timeoutMs !== undefined) {
    timeoutMs = checkNumber(`${path}.timeoutMs`, o.timeoutMs, { min: 0, minExclusive: true })
    if (timeoutMs >= shortest) {
      const name = intervalMs <= unhealthyIntervalMs ? 'intervalMs' : 'unhealthyIntervalMs'
      throw new InvalidOptionError(
        `${path}.timeoutMs`,
        `expected a number < ${name} (${shortest}), got ${timeoutMs}`,
      )
    }
  }
  const count = { min: 1, max: 1_000, integer: true }
  return {
    intervalMs,
    timeoutMs,
    unhealthyIntervalMs,
    rise: optionalNumber(`${path}.rise`, o.rise, 2, count),
    fall: optionalNumber(`${path}.fall`, o.fall, 3, count),
    initialState:
      o.initialState === undefined
        ? 'up'
        : checkOneOf(`${path}.initialState`, o.initialState, ['up', 'down']),
    jitter: optionalNumber(`${path}.jitter`, o.jitter, 0.1, { min: 0, max: 0.5 }),
    source: o.source === undefined ? defaultSource : checkString(`${path}.source`, o.source),
    filter: optionalFunction<((backend: Backend) => boolean) | undefined>(
      `${path}.filter`,
      o.filter,
      undefined,
    ),
  }
}

/**
 * @internal `fallback` when `value` is `undefined`, else `value` checked to be a boolean.
 *
 * @example
 * ```ts
 * const reuse = optionalBoolean('httpCheck.reuseConnection', o.reuseConnection, false)
 * ```
 */
export function optionalBoolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(path, `expected a boolean, got ${describeValue(value)}`)
  return value
}

/**
 * @internal `undefined` when `value` is, else `value` checked to be an integer port in 1–65535.
 *
 * @example
 * ```ts
 * const port = optionalPort('tcpCheck.port', o.port) // number | undefined
 * ```
 */
export function optionalPort(path: string, value: unknown): number | undefined {
  return value === undefined ? undefined : checkNumber(path, value, { min: 1, max: 65_535, integer: true })
}
