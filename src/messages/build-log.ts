import { encode, mapOf } from '../etf';

/** Lines of `docker build` output for the Managers' live log view (logical queue `build_logs`). */
export interface BuildLogLines {
  workflow_id: string;
  logs: readonly string[];
}

/** `%{workflow_id, logs}` with atom keys: the Manager reads `payload.workflow_id`. */
export function encodeBuildLog(lines: BuildLogLines): Buffer {
  return encode(mapOf({ workflow_id: lines.workflow_id, logs: [...lines.logs] }));
}
