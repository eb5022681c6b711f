/** The messages the builder receives and sends, as Erlang terms; the AMQP layer only moves their bytes. */
export type { BuildRequestFields } from './build-request-schema';
export {
  BUILD_REQUEST_FIELDS,
  parseBuildRequest,
  readReplyRoute,
  type BuildRequest,
  type ReceivedBuildRequest,
  type ReplyRoute,
} from './build-request';
export { InvalidRequestError, type RequestIssue } from './errors';
export { encodeReply, replyTerm, type DeployableUnit, type ReplyUpdate } from './reply';
export { encodeHipchatNotification, type HipchatNotification } from './notification';
export { encodeBuildLog, type BuildLogLines } from './build-log';
export { encodeHeartbeat, type Heartbeat } from './heartbeat';
