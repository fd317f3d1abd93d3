// The cgroup module of the linux backend: detect the hierarchy, choose a parent, and run one
// task cgroup per confined tree. See docs/cgroups.md.

export { detectCgroups, parseCgroupLayout } from './hierarchy.js';
export type { CgroupLayout, ControllerInfo, HierarchyInfo } from './hierarchy.js';
export { chooseParent, releaseParent, enforcementFor, controllersFor } from './parent.js';
export type { CgroupCapacity, ParentChoice } from './parent.js';
export { TaskCgroup } from './task-cgroup.js';
export type { KillOptions } from './task-cgroup.js';
export { TaskCgroupPool, taskCgroupPool } from './pool.js';
export { taskCgroupName, parseTaskCgroupName, processStartTicks, supervisorAlive } from './names.js';
export type { ParsedTaskName } from './names.js';
export { listOrphans, listTaskCgroups, removeEmptyOrphans } from './orphan-scan.js';
export type { OrphanCgroup } from './orphan-scan.js';
export { weightToShares, validateCgroupResources, CPU_PERIOD_US } from './limits.js';
