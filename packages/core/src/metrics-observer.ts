import type { MetricsSink, Observer } from './plugin.js'

/**
 * Writes balancer events into a {@link MetricsSink}: `fulcrum_requests_total{backend,outcome}`,
 * `fulcrum_request_duration_seconds{backend}`, `fulcrum_retries_total`, `fulcrum_retries_denied_total`,
 * `fulcrum_backend_up{backend}` and `fulcrum_backend_weight{backend}`. Label values are backend ids,
 * so cardinality is bounded by the pool size.
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
      ]
      for (const b of control.backends())
        sink.gauge('fulcrum_backend_up', b.state === 'healthy' ? 1 : 0, { balancer, backend: b.id })
      return () => {
        for (const off of offs) off()
      }
    },
  }
}
