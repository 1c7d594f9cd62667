import type net from 'node:net'

const EMPTY = Buffer.alloc(0)

/**
 * @internal Resets a socket (TCP RST: `SO_LINGER` 0, then close) when it is a TCP socket; any other
 * stream (a `TLSSocket` fed to `handle()`, a pipe) is destroyed, which is the closest it can get.
 */
export function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return
  try {
    socket.resetAndDestroy()
  } catch {
    // ERR_INVALID_HANDLE_TYPE: not a TCP handle (a TLS wrap, a pipe).
    socket.destroy()
  }
}

function resetThis(this: net.Socket): void {
  resetSocket(this)
}

/**
 * @internal Resets `socket` once what was already written to it has been handed to the kernel, so
 * that its peer receives every byte relayed before the reset. Nothing written later is waited for.
 */
export function resetWhenFlushed(socket: net.Socket): void {
  if (socket.destroyed) return
  if (socket.writableEnded) {
    if (socket.writableFinished) resetSocket(socket)
    else socket.once('finish', resetThis)
  } else if (socket.writableLength === 0) {
    resetSocket(socket)
  } else {
    // The callback of a write runs after every earlier write has been flushed.
    socket.write(EMPTY, () => resetSocket(socket))
  }
}
