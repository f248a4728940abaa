/**
 * lambic's programmatic API. Revision files need only the types:
 * `import type { Revision } from "lambic"`.
 */
export type { Revision, RevisionMeta, RevisionContext, MigrationFunction, LoadedRevision } from "./revision/types.ts";
export type { Operations } from "./operations/index.ts";
export { LambicError, ERROR_CODES, isLambicError, type ErrorCode } from "./errors.ts";
export { RevisionMap } from "./revision/revision-map.ts";
export { planUpgrade, planDowngrade, planStamp, planHistory, effectiveHeads, describeStep, type PlanStep, type RevisionStep, type StampStep } from "./revision/plan.ts";
export { createRevisionSet, type RevisionSet } from "./revision/revision-set.ts";
export { loadConfig, resolveDatabase, type LambicConfig, type DatabaseConfig } from "./config.ts";
export { loadRevisions, type LoadRevisionsOptions } from "./bundle/load-revisions.ts";
export { openRevisionSet } from "./bundle/open-revisions.ts";
export {
  runMigration,
  readCurrent,
  checkDatabase,
  repairChecksums,
  renderScript,
  type MigrationCommand,
  type RunOptions,
  type RunResult,
  type StepResult,
  type ChangedRevision,
  type CurrentState,
  type CheckResult,
  type RepairOptions,
  type RepairResult,
  type RecordedRevision,
  type ScriptOptions,
} from "./runner/run.ts";
export { openConnection, type Connection, type OpenOptions, type DriverName } from "./db/connection.ts";
