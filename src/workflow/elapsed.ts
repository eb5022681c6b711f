/**
 * Human elapsed-time strings as the OpenAperture services write them into a workflow record
 * (`elapsed_step_time`, `elapsed_workflow_time`): the first unit under its limit, rounded.
 */
const units: readonly [name: string, ms: number, limit: number][] = [
  ['second', 1_000, 60],
  ['minute', 60_000, 60],
  ['hour', 3_600_000, 24],
  ['day', 86_400_000, 7],
];

/** `"12 second(s)"`, `"3 minute(s)"`, …, `"2 week(s)"`; `"<unknown>"` without a start time. */
export function elapsedText(startMs: number | null, nowMs: number): string {
  if (startMs === null) return '<unknown>';
  const ms = Math.abs(nowMs - startMs);
  for (const [name, size, limit] of units) {
    if (ms / size < limit) return `${Math.round(ms / size)} ${name}(s)`;
  }
  return `${Math.round(ms / 604_800_000)} week(s)`;
}

/** An Erlang timestamp `{MegaSecs, Secs, MicroSecs}` as milliseconds since the epoch. */
export function erlangTimestampMs(mega: number, sec: number, micro: number): number {
  return mega * 1e9 + sec * 1e3 + Math.floor(micro / 1e3);
}

/** Milliseconds since the epoch as an Erlang timestamp `{MegaSecs, Secs, MicroSecs}`. */
export function toErlangTimestamp(ms: number): [number, number, number] {
  const totalMicro = Math.round(ms * 1e3);
  const mega = Math.floor(totalMicro / 1e12);
  const sec = Math.floor((totalMicro - mega * 1e12) / 1e6);
  return [mega, sec, totalMicro - mega * 1e12 - sec * 1e6];
}
