// The cgroup module of the linux backend: detect the hierarchy, choose a parent, and run one
// task cgroup per confined tree. See docs/cgroups.md.

export { detectCgroups, parseCgroupLayout } from './hierarchy';
export type { CgroupLayout, ControllerInfo, HierarchyInfo } from './hierarchy';
export { chooseParent, releaseParent, enforcementFor, controllersFor } from './parent';
export type { ParentChoice } from './parent';
export { TaskCgroup } from './task-cgroup';
export type { KillOptions } from './task-cgroup';
export { TaskCgroupPool, taskCgroupPool } from './pool';
export { taskCgroupName, parseTaskCgroupName, processStartTicks, supervisorAlive } from './names';
export type { ParsedTaskName } from './names';
export { listOrphans, listTaskCgroups, removeEmptyOrphans } from './orphans';
export type { OrphanCgroup } from './orphans';
export { weightToShares, validateCgroupResources, CPU_PERIOD_US } from './limits';
