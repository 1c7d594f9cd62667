/** Markdown tables of the pick benchmark's results. */
import type { FormResult, SizeResult, SubjectResult } from './child.js'
import type { Alloc } from './measure.js'
import { SIZES } from './subjects.js'

export const FLOOR = 'floor: arr[i++ % n]'

function ns(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1)
}

function timing(f: FormResult | undefined): string {
  if (f === undefined) return '—'
  const t = f.timing
  return `${ns(t.medianNs)} (${ns(t.minNs)}–${ns(t.maxNs)})`
}

function bytes(a: Alloc | undefined): string {
  if (a === undefined) return '—'
  return a.gcInWindow ? `${a.bytesPerOp}†` : `${a.bytesPerOp}`
}

function ratio(f: FormResult | undefined, floor: number | undefined): string {
  if (f === undefined || floor === undefined) return '—'
  return `${(f.timing.medianNs / floor).toFixed(1)}×`
}

function floorAt(results: readonly SubjectResult[], n: number): number | undefined {
  const s = results.find((r) => r.name === FLOOR)
  return s?.sizes.find((z) => z.n === n)?.acquire?.timing.medianNs
}

/** The full table: one row per subject and size. */
export function fullTable(results: readonly SubjectResult[]): string {
  const head =
    '| strategy | n | ns/op lease-free (min–max) | ns/op with lease (min–max) | B/op lease-free | B/op lease | B/op lease-free, tick clock | ×floor lease-free | ×floor lease |'
  const rows = [head, '|---|--:|--:|--:|--:|--:|--:|--:|--:|']
  for (const r of results) {
    for (const z of r.sizes) {
      if (z.skipped !== undefined) {
        rows.push(`| ${r.name} | ${z.n} | skipped: ${z.skipped} | | | | | | |`)
        continue
      }
      const floor = floorAt(results, z.n)
      rows.push(
        `| ${r.name} | ${z.n} | ${timing(z.acquire)} | ${timing(z.pick)} | ${bytes(z.acquire?.alloc)} | ${bytes(z.pick?.alloc)} | ${bytes(z.ownAlloc)} | ${ratio(z.acquire, floor)} | ${ratio(z.pick, floor)} |`,
      )
    }
  }
  return rows.join('\n')
}

/** A compact matrix: median ns/op of one form, subjects × sizes. */
export function matrix(results: readonly SubjectResult[], form: 'acquire' | 'pick'): string {
  const rows = [`| ${form === 'acquire' ? 'lease-free' : 'with lease'} ns/op | ${SIZES.join(' | ')} |`]
  rows.push(`|---|${SIZES.map(() => '--:').join('|')}|`)
  for (const r of results) {
    const cells = SIZES.map((n) => {
      const z: SizeResult | undefined = r.sizes.find((s) => s.n === n)
      const f = z?.[form]
      return f === undefined ? '—' : ns(f.timing.medianNs)
    })
    if (cells.every((c) => c === '—')) continue
    rows.push(`| ${r.name} | ${cells.join(' | ')} |`)
  }
  return rows.join('\n')
}

/**
 * Strategies that allocate ≥ 0.5 B per lease-free op even with the tick clock (so not because of
 * `performance.now()`): they break the zero-allocation contract of `Selector.select()`.
 */
export function allocating(results: readonly SubjectResult[]): string[] {
  const out: string[] = []
  for (const r of results)
    for (const z of r.sizes) {
      const own = z.ownAlloc ?? (r.name.includes('tick clock') ? z.acquire?.alloc : undefined)
      if (own === undefined || own.bytesPerOp === 0) continue
      const real = z.ownAlloc === undefined ? '' : ` (${bytes(z.acquire?.alloc)} with the real clock)`
      out.push(`${r.name} @ ${z.n}: ${bytes(own)} B/op lease-free with the tick clock${real}`)
    }
  return out
}

/** Ring lookups side by side: the hashing strategies (tick clock, lease-free) and `hashring`. */
export function ringTable(results: readonly SubjectResult[]): string {
  const names = [
    'ringHash (tick clock)',
    'maglev (tick clock)',
    'ringHash',
    'maglev',
    'hashring.get (LRU hit)',
    'hashring.get (cache 1: miss)',
  ]
  const rows = [
    `| ring lookup, ns/op (B/op) | ${SIZES.join(' | ')} |`,
    `|---|${SIZES.map(() => '--:').join('|')}|`,
  ]
  for (const name of names) {
    const r = results.find((x) => x.name === name)
    if (r === undefined) continue
    const cells = SIZES.map((n) => {
      const f = r.sizes.find((z) => z.n === n)?.acquire
      return f === undefined ? '—' : `${ns(f.timing.medianNs)} (${bytes(f.alloc)})`
    })
    rows.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  return rows.join('\n')
}
