import { defineActor, type ActorBehaviour } from './supervision';

/**
 * An infrastructure child whose real actor does not exist yet. It is a real actor, so the tree already has
 * its final shape, start order, shutdown order and health; it takes no messages and holds no resources.
 */
export function placeholderActor(): ActorBehaviour<never, void> {
  return defineActor<never>({
    init: (ctx) => ctx.log.debug('placeholder started'),
    handle: () => undefined,
  });
}
