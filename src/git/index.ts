export * from './errors';
export * from './credentials';
export { repoUrl, resolveRemote, gitAccessFromConfig, type GitAccess, type Remote } from './remote';
export { validateRef, isFullSha, isAbbreviatedSha } from './ref-name';
export type { GitContext } from './transport';
export { locateRef, type RefTarget } from './refs';
export { checkoutRepo, DEFAULT_REF, type Checkout, type CheckoutInput } from './checkout';
export {
  resolveSourceCommit,
  readSourceFile,
  type SourceCommit,
  type SourceCommitInput,
  type SourceFileInput,
} from './source';
export {
  renderCommitPush,
  deploymentCommitMessage,
  type GitAuthor,
  type PublishInput,
  type PublishResult,
  type RenderStep,
} from './publish';
export { KeyedMutex } from './keyed-mutex';
