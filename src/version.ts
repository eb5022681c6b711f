// The package's own version, compiled into the bundle: what operators compare across replicas and releases.
import packageJson from '../package.json';

/** The builder's version, from package.json. */
export const BUILDER_VERSION: string = packageJson.version;
