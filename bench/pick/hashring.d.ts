/** The part of `hashring` (npm, no bundled types) the pick benchmark uses. */
declare module 'hashring' {
  interface HashRingOptions {
    readonly 'vnode count'?: number
    readonly 'max cache size'?: number
    readonly replicas?: number
    readonly compatibility?: 'hash_ring' | 'ketama'
    readonly 'default port'?: number
  }

  class HashRing {
    constructor(servers: readonly string[] | string, algorithm?: string, options?: HashRingOptions)
    /** The server for `key` (LRU-cached, 5000 entries by default). */
    get(key: string): string | undefined
  }

  export default HashRing
}
