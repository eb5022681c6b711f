import { BUILDER_VERSION } from '../version';

/**
 * The label on every image a BuildKit build of this builder makes: what tells its leftovers on a shared engine
 * (an image left untagged when its replica was killed between export and tag) from images others made. Its
 * value is the builder's version; only the key is matched. Classic builds carry no label: the classic builder
 * commits one more image for a `LABEL`, a cost every build would pay, so their step images are written down
 * as they appear instead ({@link recordImage}).
 */
export const BUILDER_LABEL = 'org.openaperture.builder';

/** The labels a BuildKit build is given (`labels`): BuildKit commits no image before the last. */
export const builderLabels: Readonly<Record<string, string>> = { [BUILDER_LABEL]: BUILDER_VERSION };
