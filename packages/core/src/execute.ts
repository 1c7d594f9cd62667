import type { Backend } from './backend.js'
import { BackendSet } from './backend-set.js'
import { classifyError } from './classify-error.js'
import type { Clock, TimerHandle } from './clock.js'
import { AttemptTimeoutError, DeadlineExceededError } from './errors.js'
import type { BalancerEvents } from './events.js'
import type { LeaseSlot } from './lease.js'
import { OK, type Outcome } from './outcome.js'
import type { AttemptFn, AttemptInfo } from './plugin.js'
import { fullJitterBackoff } from './primitives/backoff.js'
import type { Random } from './random.js'
import type { RetryPolicy } from './retry-policy.js'

/** Per-call overrides of `execute()`. */
export interface ExecuteOptions {
  /** Aborts the call; the current attempt is released as `cancelled` and nothing is retried. */
  readonly signal?: AbortSignal
  /** Overrides the policy's overall deadline, in ms. */
  readonly timeoutMs?: number
  /** Overrides the policy's number of retries. */
  readonly retries?: number
}

/** @internal What `execute()` needs from the balancer. */
export interface ExecuteHost<Ctx> {
  readonly clock: Clock
  readonly random: Random
  readonly retryPolicy: RetryPolicy
  acquire(ctx: Ctx, slot: LeaseSlot, tried: BackendSet): Backend
  acquireAsync(ctx: Ctx, slot: LeaseSlot, tried: BackendSet, signal?: AbortSignal): Promise<Backend>
  readonly queues: boolean
  release(slot: LeaseSlot, outcome?: Outcome): void
  wrap<T>(fn: AttemptFn<T>): AttemptFn<T>
  emit<E extends keyof BalancerEvents>(event: E, ...args: BalancerEvents[E]): void
}

/** Raised inside an attempt when its result was classified as a failure (retryable by default). */
class FailedResult {
  constructor(
    readonly result: unknown,
    readonly outcome: Outcome,
  ) {}
}

/** @internal pick → fn → release, with retries to untried backends, backoff, budget and deadline. */
export async function execute<Ctx, T>(
  host: ExecuteHost<Ctx>,
  ctx: Ctx,
  fn: AttemptFn<T>,
  options: ExecuteOptions | undefined,
): Promise<T> {
  const policy = host.retryPolicy
  const clock = host.clock
  const retries = options?.retries ?? policy.retries
  const timeoutMs = options?.timeoutMs ?? policy.timeoutMs
  const userSignal = options?.signal
  userSignal?.throwIfAborted()
  const start = clock.now()
  const deadline = start + timeoutMs
  policy.budget?.deposit(start)
  const call = host.wrap(fn)
  const tried = new BackendSet()
  const slot: LeaseSlot = { backend: undefined, startedAt: 0, held: false }
  let lastError: unknown
  for (let attempt = 0; ; attempt++) {
    let backend: Backend
    try {
      backend = host.queues
        ? await queuedAcquire(host, ctx, slot, tried, userSignal, deadline - clock.now(), timeoutMs)
        : host.acquire(ctx, slot, tried)
    } catch (err) {
      // Out of untried backends: the previous attempt's error says more than "no backend".
      if (attempt > 0) throw lastError
      throw err
    }
    tried.add(backend)
    const now = clock.now()
    const info: AttemptInfo = { attempt, remainingMs: deadline - now }
    let failure: unknown
    let outcome: Outcome
    try {
      const result = await runAttempt(
        call,
        backend,
        info,
        userSignal,
        deadline - now,
        policy.perTryTimeoutMs,
        clock,
        timeoutMs,
      )
      const verdict = policy.classify?.(result)
      if (verdict === undefined || verdict.ok) {
        host.release(slot, verdict ?? OK)
        return result
      }
      failure = new FailedResult(result, verdict)
      outcome = verdict
    } catch (err) {
      failure = err
      outcome = { ok: false, error: userSignal?.aborted ? 'cancelled' : classifyError(err) }
    }
    host.release(slot, outcome)
    const failedResult = failure instanceof FailedResult
    lastError = failedResult ? (failure as FailedResult).result : failure
    if (userSignal?.aborted) throw userSignal.reason
    if (failure instanceof DeadlineExceededError) throw failure
    const delay = attempt < retries ? retryDelay(host, backend, lastError, outcome, info, deadline) : -1
    if (delay < 0) {
      if (failedResult) return lastError as T
      throw lastError
    }
    host.emit('request:retry', { backend, retry: attempt + 1, delayMs: delay, error: lastError })
    if (delay > 0) await sleep(clock, delay, userSignal)
  }
}

/** `acquireAsync()` bounded by the caller's signal and the overall deadline (time queued counts). */
async function queuedAcquire<Ctx>(
  host: ExecuteHost<Ctx>,
  ctx: Ctx,
  slot: LeaseSlot,
  tried: BackendSet,
  userSignal: AbortSignal | undefined,
  remainingMs: number,
  timeoutMs: number,
): Promise<Backend> {
  if (!Number.isFinite(remainingMs)) return host.acquireAsync(ctx, slot, tried, userSignal)
  const ac = new AbortController()
  const onAbort = (): void => ac.abort(userSignal?.reason)
  userSignal?.addEventListener('abort', onAbort, { once: true })
  const timer = host.clock.setTimer(
    () => ac.abort(new DeadlineExceededError(timeoutMs)),
    Math.max(0, remainingMs),
  )
  try {
    return await host.acquireAsync(ctx, slot, tried, ac.signal)
  } finally {
    host.clock.clearTimer(timer)
    userSignal?.removeEventListener('abort', onAbort)
  }
}

/** The backoff before the next retry, or -1 when the failure must not be retried. */
function retryDelay<Ctx>(
  host: ExecuteHost<Ctx>,
  backend: Backend,
  error: unknown,
  outcome: Outcome,
  info: AttemptInfo,
  deadline: number,
): number {
  const policy = host.retryPolicy
  const retryable = policy.retryOn
    ? policy.retryOn(error, info)
    : outcome.error !== 'cancelled' && (error as { retryable?: unknown } | null)?.retryable !== false
  if (!retryable) return -1
  const now = host.clock.now()
  if (policy.budget !== null && !policy.budget.tryWithdraw(now)) {
    host.emit('request:retry-denied', { backend, error })
    return -1
  }
  let delay = fullJitterBackoff(info.attempt + 1, host.random, policy.backoff)
  const retryAfter = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
  if (typeof retryAfter === 'number' && retryAfter > delay)
    delay = Math.min(retryAfter, policy.retryAfterMaxMs)
  // No time left for another attempt: end with the error we have rather than a deadline error.
  return now + delay >= deadline ? -1 : delay
}

/** Runs one attempt, rejecting as soon as the caller aborts, the deadline passes or the try times out. */
function runAttempt<T>(
  call: AttemptFn<T>,
  backend: Backend,
  info: AttemptInfo,
  userSignal: AbortSignal | undefined,
  remainingMs: number,
  perTryMs: number,
  clock: Clock,
  timeoutMs: number,
): Promise<T> {
  const ac = new AbortController()
  return new Promise<T>((resolve, reject) => {
    let timer: TimerHandle | undefined
    const finish = (): void => {
      if (timer !== undefined) clock.clearTimer(timer)
      userSignal?.removeEventListener('abort', onUserAbort)
    }
    const fail = (reason: unknown): void => {
      finish()
      if (!ac.signal.aborted) ac.abort(reason)
      reject(reason)
    }
    const onUserAbort = (): void => fail(userSignal?.reason)
    if (userSignal !== undefined) userSignal.addEventListener('abort', onUserAbort, { once: true })
    const limit = Math.min(remainingMs, perTryMs)
    if (Number.isFinite(limit)) {
      const byDeadline = remainingMs <= perTryMs
      timer = clock.setTimer(
        () => fail(byDeadline ? new DeadlineExceededError(timeoutMs) : new AttemptTimeoutError(perTryMs)),
        Math.max(0, limit),
      )
    }
    let pending: Promise<T> | T
    try {
      pending = call(backend, ac.signal, info)
    } catch (err) {
      fail(err)
      return
    }
    Promise.resolve(pending).then(
      (value) => {
        finish()
        resolve(value)
      },
      (err) => fail(err),
    )
  })
}

function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimer(timer)
      reject(signal?.reason)
    }
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
