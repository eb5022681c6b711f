export { PathEscapeError, RepoFileError } from './confined-fs';
export * from './deployment-config';
export { parseUnit, readUnits, readEcsTaskDefinition, type Unit, type UnitOption } from './units';
export { notificationsConfig, OPENAPERTURE_FILE } from './openaperture';
export { createWorkDir, removeWorkDirs, staleWorkDirs, WorkDirError, type WorkDir } from './work-dir';
