/**
 * Command ids, registered once (see commands/index.ts) and reused by the palette,
 * the sidebar buttons and the context menus.
 */
export namespace CommandIDs {
  export const openSidebar = 'coffea-casa:open-sidebar';
  export const newCluster = 'coffea-casa:new-cluster';
  export const scaleCluster = 'coffea-casa:scale-cluster';
  export const shutdownCluster = 'coffea-casa:shutdown-cluster';
  export const dismissCluster = 'coffea-casa:dismiss-cluster';
  export const keepCluster = 'coffea-casa:keep-cluster';
  export const injectClientCode = 'coffea-casa:inject-client-code';
  export const copySchedulerAddress = 'coffea-casa:copy-scheduler-address';
  export const openDashboardPlot = 'coffea-casa:open-dashboard-plot';
  export const openDashboard = 'coffea-casa:open-dashboard';
  export const showJobs = 'coffea-casa:show-jobs';
  export const killJob = 'coffea-casa:kill-job';
  export const showJobLogs = 'coffea-casa:show-job-logs';
  export const diagnoseJob = 'coffea-casa:diagnose-job';
  export const releaseJob = 'coffea-casa:release-job';
  export const jobShell = 'coffea-casa:job-shell';
  export const refresh = 'coffea-casa:refresh';
  export const toggleReport = 'coffea-casa:toggle-performance-report';
  export const installPackages = 'coffea-casa:install-packages';
  export const sendFile = 'coffea-casa:send-file-to-workers';
}

/** Palette category of every coffea-casa command. */
export const PALETTE_CATEGORY = 'coffea-casa';
