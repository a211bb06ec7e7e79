export * from './model';
export * from './widget';
