export * from './model';
export * from './ScaleDialog';
export * from './widget';
