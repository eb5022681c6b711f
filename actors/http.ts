import { startHealthServer, type HealthServer, type HealthSource } from '../src/health/server';
import { defineActor, type ActorBehaviour } from './supervision';

/**
 * The `http` child of the app: serves `/healthz`, `/readyz` and `/metrics` for as long as the tree runs. It
 * starts first and stops last, so the endpoint sees the whole life of the service, drain included. `bound`
 * hands over a server the service bound before the tree started (once: a restarted actor binds anew).
 */
export function httpActor(
  listen: string,
  source: HealthSource,
  bound?: () => HealthServer | undefined,
): ActorBehaviour<never, HealthServer> {
  return defineActor<never, HealthServer>({
    async init(ctx) {
      const server = bound?.() ?? (await startHealthServer(listen, source));
      ctx.log.info('health endpoint listening', { address: server.address });
      return server;
    },
    handle: (_msg, server) => server,
    terminate: (server) => server.close(),
  });
}
