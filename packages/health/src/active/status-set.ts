import { checkNumber, describeValue, InvalidOptionError } from '@fulcrum/core'

/**
 * HTTP statuses to match: one status (`200`), one inclusive range (`[200, 299]`), or a list of
 * statuses and ranges (`[200, [300, 399]]`, `[[200, 204], 304]`). A list of exactly two plain
 * numbers is read as a range; to list two single statuses write `[[200, 200], [204, 204]]`.
 *
 * @example
 * ```ts
 * const expect: StatusSpec = [[200, 299], 304]
 * ```
 */
export type StatusSpec = number | readonly [number, number] | readonly (number | readonly [number, number])[]

/**
 * @internal A compiled {@link StatusSpec}: one flag per status 100–599, so matching is one lookup.
 *
 * @example
 * ```ts
 * StatusSet.from('httpCheck.expectStatus', [[200, 299], 304], undefined).has(304) // true
 * ```
 */
export class StatusSet {
  readonly #bits = new Uint8Array(600)

  /** True when `status` is in the set. */
  has(status: number): boolean {
    return status >= 100 && status < 600 && this.#bits[status] === 1
  }

  /** Compiles `spec` (checked; `path` names it in errors), or `fallback` when it is `undefined`. */
  static from(path: string, spec: unknown, fallback: StatusSpec | undefined): StatusSet {
    const set = new StatusSet()
    const s = spec === undefined ? fallback : spec
    if (s === undefined) return set
    if (typeof s === 'number') set.#add(path, s, s)
    else if (!Array.isArray(s) || s.length === 0)
      throw new InvalidOptionError(
        path,
        `expected a status, a [lo, hi] range or a non-empty list of them, got ${describeValue(s)}`,
      )
    else if (s.length === 2 && typeof s[0] === 'number' && typeof s[1] === 'number') set.#range(path, s)
    else
      s.forEach((item: unknown, i: number) => {
        if (typeof item === 'number') set.#add(`${path}[${i}]`, item, item)
        else set.#range(`${path}[${i}]`, item)
      })
    return set
  }

  #range(path: string, value: unknown): void {
    if (!Array.isArray(value) || value.length !== 2)
      throw new InvalidOptionError(path, `expected a status or a [lo, hi] range, got ${describeValue(value)}`)
    const lo = status(`${path}[0]`, value[0])
    const hi = status(`${path}[1]`, value[1])
    if (hi < lo) throw new InvalidOptionError(path, `expected lo ≤ hi, got [${lo}, ${hi}]`)
    this.#add(path, lo, hi)
  }

  #add(path: string, lo: number, hi: number): void {
    status(path, lo)
    for (let i = lo; i <= hi; i++) this.#bits[i] = 1
  }
}

function status(path: string, value: unknown): number {
  return checkNumber(path, value, { min: 100, max: 599, integer: true })
}
