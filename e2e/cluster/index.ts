export { startCluster, type Cluster, type ClusterOptions } from './cluster';
export {
  defaultCacheDir,
  defaultManifestPath,
  loadBuildManifest,
  REQUIRED_COMPONENTS,
  type BuildManifest,
  type BuiltComponent,
  type ComponentName,
} from './build-manifest';
export {
  FLUX_CONTROLLERS,
  FLUX_NAMESPACE,
  fluxControllerArgs,
  type FluxControllerName,
  type FluxOptions,
} from './flux-controllers';
export {
  conditionsOf,
  describeConditions,
  Kube,
  KubeApiError,
  parseManifests,
  type Condition,
  type KubeObject,
  type ObjectRef,
} from './kube-client';
export { KWOK_NODE_ANNOTATION } from './kwok-node';
export { processGroupAlive, type ProcessInfo } from './process-supervisor';
export { httpRequest, pollUntil, TimeoutError, type HttpResult } from './wait';
