/**
 * `reply-from`: fastify 5 with `@fastify/reply-from` 12, the idiomatic way to balance with it:
 * `base` set to the origins' array, which makes reply-from send every request through one undici
 * `BalancedPool` (round robin over healthy origins, keep-alive, 128 connections per origin: its
 * default, as every Node target here). One catch-all GET route answers `reply.from(request.url)`;
 * the fastify logger is off.
 */
import replyFrom from '@fastify/reply-from'
import Fastify from 'fastify'
import { childConfig, ready } from './child-main.js'

const { port, origins } = childConfig()
const app = Fastify({ logger: false })
await app.register(replyFrom, { base: [...origins], undici: { connections: 128 } })
app.get('/*', (request, reply) => reply.from(request.url))
await app.listen({ port, host: '127.0.0.1' })
ready()
