export * from './JobLogs';
export * from './JobsPanel';
export * from './JobAnalysis';
export * from './LoadingPane';
