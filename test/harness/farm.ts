import { farmActor, farmSource, farmStatus, type FarmMsg, type FarmStatus } from '../../actors/farm';
import { startTree, type Tree } from '../../actors/supervision';
import { parseEngineSpecs } from '../../src/docker/farm/hosts';
import type { RecordedImage } from '../../src/docker/image-record';
import type { EngineSource } from '../../src/docker/farm/source';

/** A real farm actor over `entries` (BUILD_HOSTS entries), in a tree of its own, stopped after each test. */
export interface TestFarm {
  readonly source: EngineSource;
  readonly tree: Tree<FarmMsg>;
  status(): Promise<FarmStatus>;
  /** Resolves once the farm's status satisfies `ready` (e.g. every engine probed), asking every 20 ms. */
  until(ready: (status: FarmStatus) => boolean): Promise<FarmStatus>;
}

const farms: Tree<FarmMsg>[] = [];
afterEach(async () => {
  await Promise.all(farms.splice(0).map((tree) => tree.stop()));
});

export async function startTestFarm(
  entries: readonly string[],
  options: {
    probeIntervalMs?: number;
    slots?: number;
    requestTimeoutMs?: number;
    leftoverGraceMs?: number;
    leftoverImages?: readonly RecordedImage[];
  } = {},
): Promise<TestFarm> {
  const engines = parseEngineSpecs(entries, options.slots ?? 2);
  const engine = { requestTimeoutMs: options.requestTimeoutMs ?? 2000 };
  const tree = await startTree(
    farmActor({
      engines,
      engine,
      probeIntervalMs: options.probeIntervalMs ?? 60_000,
      ...(options.leftoverGraceMs === undefined ? {} : { leftoverGraceMs: options.leftoverGraceMs }),
      ...(options.leftoverImages === undefined ? {} : { leftoverImages: options.leftoverImages }),
    }),
    { id: 'farm' },
  );
  farms.push(tree);
  const status = () => farmStatus(tree.root);
  return {
    source: farmSource(() => tree.root, engines, engine),
    tree,
    status,
    async until(ready) {
      for (;;) {
        const now = await status();
        if (ready(now)) return now;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** Every engine of the farm has been probed once, whatever the answer. */
export const probed = (status: FarmStatus): boolean =>
  status.engines.every((e) => e.healthy || e.lastError !== null);
