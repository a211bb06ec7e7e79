export * from './JobLogs';
export * from './JobsPanel';
