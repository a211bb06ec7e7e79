export * from './DashboardLauncher';
export * from './pane';
