/**
 * @module @fulcrum/strategies
 *
 * Load-balancing strategies for Fulcrum. Every factory returns a `Strategy` for
 * `createBalancer().strategy(…)`; tables are built off the pick path, picks allocate nothing.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { keyFromHeader, ringHash } from '@fulcrum/strategies'
 * const lb = createBalancer().backends(urls).strategy(ringHash({ key: keyFromHeader('x-user-id') })).build()
 * ```
 */
export * from './basic.js'
export * from './hashing/index.js'
