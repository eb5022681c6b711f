/**
 * The status messages of the image step, word for word as the original builder wrote them: users, the event
 * log and anything that matches on them expect exactly these texts.
 */
export const statusMessages = {
  imageExists: (tag: string) => `The docker image ${tag} already exists, skipping docker build`,
  forceBuild: () => 'The force_build flag has been set, requesting docker build',
  imageMissing: (tag: string) => `The docker image ${tag} does not exist, requesting docker build`,
  building: (tag: string) => `Executing a docker build for ${tag}...`,
  built: (id: string) => `Successfully created image ${id}, tagging image ${id}...`,
  tagged: (id: string, registryUrl: string) =>
    `Successfully tagging image ${id}, pushing to docker registry ${registryUrl}...`,
  pushed: (id: string) => `Successfully pushed image ${id}`,
  verified: (tag: string) => `Verified ${tag} exists in docker repo`,
} as const;

/** The 12-character id Docker shows, from `sha256:<hex>` or a short id. */
export function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
