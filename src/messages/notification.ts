import { encode, mapOf } from '../etf';

/** A HipChat notification for the Notifications module (logical queue `notifications_hipchat`). */
export interface HipchatNotification {
  /** Green when true, red (and notifying the room) when false. */
  is_success: boolean;
  /** The builder's is `[OA][<workflow id>]`. */
  prefix: string;
  message: string;
  /** `notifications_config.hipchat.room_names`, or null without a notifications config. */
  room_names: readonly string[] | null;
}

/** `%{is_success, message, prefix, room_names}` with atom keys, as the Notifications module matches it. */
export function encodeHipchatNotification(n: HipchatNotification): Buffer {
  return encode(
    mapOf({
      is_success: n.is_success,
      prefix: n.prefix,
      message: n.message,
      room_names: n.room_names === null ? null : [...n.room_names],
    }),
  );
}
