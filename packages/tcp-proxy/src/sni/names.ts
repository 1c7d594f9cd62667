import { checkObject, InvalidOptionError } from '@fulcrum/core'
import { isValidHostName } from './hostname.js'

/**
 * @internal A validated table of server-name patterns: exact host names and one-label wildcards
 * (`*.example.com`), both lower-cased. Shared by `sniRouter()` and `tlsTerminator()` so that a name
 * routes and gets its certificate by the same rules.
 */
export interface NameTable<V> {
  readonly exact: ReadonlyMap<string, V>
  /** Wildcards by their suffix: `*.example.com` is stored under `example.com`. */
  readonly wildcard: ReadonlyMap<string, V>
}

/**
 * @internal Validates the keys of `table` (at option path `path`) and builds a {@link NameTable},
 * mapping each value through `value(v, keyPath)`. Throws `InvalidOptionError` naming
 * `path["key"]` for a key that is neither a valid host name nor `*.` + one, and for two keys that
 * differ only in case.
 */
export function buildNameTable<In, Out>(
  path: string,
  table: unknown,
  value: (v: In, keyPath: string, name: string) => Out,
): NameTable<Out> {
  checkObject(path, table)
  const exact = new Map<string, Out>()
  const wildcard = new Map<string, Out>()
  for (const key of Object.keys(table)) {
    const keyPath = `${path}[${JSON.stringify(key)}]`
    const isWildcard = key.startsWith('*.')
    const host = isWildcard ? key.slice(2) : key
    if (!isValidHostName(host))
      throw new InvalidOptionError(
        keyPath,
        'expected a DNS host name (`a.example.com`) or a one-label wildcard (`*.example.com`)',
      )
    const lower = host.toLowerCase()
    const target = isWildcard ? wildcard : exact
    if (target.has(lower))
      throw new InvalidOptionError(keyPath, 'duplicates another key (names are case-insensitive)')
    target.set(lower, value(table[key] as In, keyPath, isWildcard ? `*.${lower}` : lower))
  }
  return { exact, wildcard }
}

/**
 * @internal Looks `name` up in `table`: the exact name first, then the wildcard for its parent
 * (`a.example.com` → `*.example.com`; a wildcard matches exactly one label). Case-insensitive.
 */
export function lookupName<V>(table: NameTable<V>, name: string): V | undefined {
  let lower = name
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) {
      lower = name.toLowerCase()
      break
    }
  }
  const hit = table.exact.get(lower)
  if (hit !== undefined) return hit
  if (table.wildcard.size === 0) return undefined
  const dot = lower.indexOf('.')
  if (dot <= 0) return undefined
  return table.wildcard.get(lower.slice(dot + 1))
}
