export * from './model';
export * from './PackagesDialog';
export * from './ScaleDialog';
export * from './widget';
