// Sends exactly argv[3] GETs to 127.0.0.1:argv[2], argv[4] at a time, over keep-alive; exits 1 on an error.
import { createRequire } from 'node:module'

const { Pool } = createRequire(import.meta.url)('../../../packages/http-proxy/node_modules/undici')
const [port, total, concurrency] = process.argv.slice(2).map(Number)
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency })
let started = 0
let done = 0
await new Promise((resolve) => {
  const one = () => {
    if (started >= total) return
    started++
    pool.request({ path: '/', method: 'GET' }).then(
      async (r) => {
        await r.body.dump()
        if (r.statusCode !== 200) process.exit(1)
        if (++done === total) resolve()
        else one()
      },
      (err) => {
        console.error(err)
        process.exit(1)
      },
    )
  }
  for (let i = 0; i < concurrency; i++) one()
})
await pool.close()
