export * from './model';
export * from './NewClusterDialog';
export * from './PackagesDialog';
export * from './preferences';
export * from './ScaleDialog';
export * from './widget';
