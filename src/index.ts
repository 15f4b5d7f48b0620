export * from './model';
export * from './flux';
export { synth, synthesizeEnvironment } from './gitops/synth';
export { writeTree } from './gitops/tree-writer';
