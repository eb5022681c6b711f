import type { Cell } from './cell';
import { processCounters } from './registry';
import type { ActorHealth, HealthTree } from './types';

/**
 * Reads the tree as it is, without asking any actor: like Erlang's `process_info`, it works even when an
 * actor is stuck in a long callback, which is exactly when health matters.
 */
export function actorHealth(cell: Cell): ActorHealth {
  return {
    id: cell.id,
    path: cell.path,
    kind: cell.kind,
    state: cell.state,
    restartCount: cell.restartCount,
    lastFailure: cell.lastFailure,
    mailboxDepth: cell.mailboxDepth,
    children: [...cell.children.values()].map(actorHealth),
  };
}

export function healthTree(root: Cell): HealthTree {
  const tree = actorHealth(root);
  const counts = { actors: 0, notRunning: 0 };
  const visit = (node: ActorHealth): void => {
    counts.actors += 1;
    if (node.state !== 'running') counts.notRunning += 1;
    node.children.forEach(visit);
  };
  visit(tree);
  const process = processCounters();
  return {
    status: tree.state !== 'running' ? 'down' : counts.notRunning > 0 ? 'degraded' : 'ok',
    at: new Date().toISOString(),
    actors: counts.actors,
    deadLetters: process.deadLetters,
    abandoned: [...root.runtime.abandoned],
    processFailures: { count: process.processFailures, last: process.lastProcessFailure },
    root: tree,
  };
}
