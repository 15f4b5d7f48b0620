import { Chart, type ChartProps } from 'cdk8s';
import type { Construct } from 'constructs';

export interface ManifestFileProps extends ChartProps {
  /** Path of the file in the GitOps tree, relative to its root, e.g. `clusters/dev/tagflow-dev.yaml`. */
  readonly path: string;
}

/**
 * A cdk8s Chart that renders to exactly one YAML file of the GitOps tree. tagflow renders charts itself
 * (cdk8s writes no comments, and `# {"$imagepolicy": ...}` markers are comments), so each chart carries
 * the path it is written to.
 */
export class ManifestFile extends Chart {
  public readonly path: string;

  constructor(scope: Construct, id: string, props: ManifestFileProps) {
    super(scope, id, { disableResourceNameHashes: true, ...props });
    if (!/^(?!\/)(?!.*\.\.)[A-Za-z0-9._\/-]+\.ya?ml$/.test(props.path)) {
      throw new Error(`ManifestFile: prop 'path' is '${props.path}': must be a relative path ending in .yaml or .yml, without '..'`);
    }
    this.path = props.path;
  }
}
