import type { MetricsSink, Observer } from './plugin.js'

/**
 * Writes balancer events into a {@link MetricsSink}: `fulcrum_requests_total{backend,outcome}`,
 * `fulcrum_request_duration_seconds{backend}`, `fulcrum_retries_total`, `fulcrum_retries_denied_total`,
 * `fulcrum_backend_up{backend}`, `fulcrum_backend_weight{backend}`, `fulcrum_balancer_panic` (1 in
 * panic mode), `fulcrum_health_checks_total{backend,source,result}`, `fulcrum_breaker_open{backend}`
 * (1 open, 0.5 half-open, 0 closed) and `fulcrum_requests_rejected_total{source,reason}`. Label values
 * are backend ids and plugin names, so cardinality is bounded by the pool size.
 *
 * @example
 * ```ts
 * createBalancer().observe(metricsObserver(mySink))   // `.observe(mySink)` does the same
 * ```
 */
export function metricsObserver(sink: MetricsSink): Observer {
  return {
    name: 'metrics',
    attach(control) {
      const balancer = control.name
      const offs = [
        control.on('request:end', ({ backend, outcome, latencyMs }) => {
          const labels = {
            balancer,
            backend: backend.id,
            outcome: outcome.ok ? 'success' : (outcome.error ?? 'error'),
          }
          sink.counter('fulcrum_requests_total', 1, labels)
          sink.histogram('fulcrum_request_duration_seconds', latencyMs / 1000, {
            balancer,
            backend: backend.id,
          })
        }),
        control.on('request:retry', ({ backend }) =>
          sink.counter('fulcrum_retries_total', 1, { balancer, backend: backend.id }),
        ),
        control.on('request:retry-denied', ({ backend }) =>
          sink.counter('fulcrum_retries_denied_total', 1, { balancer, backend: backend.id }),
        ),
        control.on('backend:state', ({ backend, to }) =>
          sink.gauge('fulcrum_backend_up', to === 'healthy' ? 1 : 0, { balancer, backend: backend.id }),
        ),
        control.on('backend:weight', ({ backend, to }) =>
          sink.gauge('fulcrum_backend_weight', to, { balancer, backend: backend.id }),
        ),
        control.on('balancer:panic', ({ panic }) =>
          sink.gauge('fulcrum_balancer_panic', panic ? 1 : 0, { balancer }),
        ),
        control.on('health:check', ({ backend, source, ok }) =>
          sink.counter('fulcrum_health_checks_total', 1, {
            balancer,
            backend: backend.id,
            source,
            result: ok ? 'pass' : 'fail',
          }),
        ),
        control.on('breaker:state', ({ backend, to }) =>
          sink.gauge('fulcrum_breaker_open', to === 'open' ? 1 : to === 'half-open' ? 0.5 : 0, {
            balancer,
            backend: backend.id,
          }),
        ),
        control.on('request:rejected', ({ source, reason }) =>
          sink.counter('fulcrum_requests_rejected_total', 1, { balancer, source, reason }),
        ),
      ]
      for (const b of control.backends())
        sink.gauge('fulcrum_backend_up', b.state === 'healthy' ? 1 : 0, { balancer, backend: b.id })
      sink.gauge('fulcrum_balancer_panic', 0, { balancer })
      return () => {
        for (const off of offs) off()
      }
    },
  }
}
