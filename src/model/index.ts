export * from './environment';
export * from './errors';
export * from './load';
export * from './tag-scheme';
export * from './tiers';
export * from './aws-names';
export * from './promotion';
