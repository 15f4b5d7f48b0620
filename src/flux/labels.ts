/** Labels tagflow puts on what it generates; `tagflow.io/tier` also selects a tier's ImagePolicies. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_ENVIRONMENT = 'tagflow.io/environment';
export const LABEL_TIER = 'tagflow.io/tier';
export const LABEL_APP = 'tagflow.io/app';

export function tierLabels(environment: string, tier: string, app?: string): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: 'tagflow',
    [LABEL_ENVIRONMENT]: environment,
    [LABEL_TIER]: tier,
    ...(app ? { [LABEL_APP]: app } : {}),
  };
}
