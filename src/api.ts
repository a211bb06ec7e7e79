/**
 * Typed REST client for the coffea-casa-lab server extension.
 *
 * All routes live under `{base_url}coffea-casa/` and go through Jupyter's
 * authentication (ServerConnection adds the token and XSRF headers).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** `lost`: the process that held the cluster died without closing it. */
export type ClusterStatus =
  'starting' | 'running' | 'failed' | 'closed' | 'lost';

/** Where a cluster lives: made by the sidebar, in a notebook's kernel, or in a script. */
export type ClusterKind = 'sidebar' | 'kernel' | 'script';

export type ClusterBackend = 'htcondor' | 'local';

export interface IAdaptModel {
  minimum: number;
  maximum: number;
}

/**
 * A Dask cluster as reported by `GET {base_url}coffea-casa/clusters`.
 */
export interface IClusterModel {
  id: string;
  name: string;
  status: ClusterStatus;
  error?: string | null;
  backend: ClusterBackend;
  scheduler_address: string;
  /** Proxied dashboard URL, relative to the server's base_url. */
  dashboard_url: string;
  workers: number;
  cores: number;
  memory_bytes: number;
  adapt?: IAdaptModel | null;
  requested_workers: number;
  /** Why the cluster gave back its workers after the idle timeout, if it did. */
  idle?: string | null;
  /** A performance report is being recorded. */
  recording?: boolean;
  /** Absent from older servers, which list only the sidebar's clusters. */
  kind?: ClusterKind;
  /**
   * `kernel`: the notebook's path relative to the server root (null when
   * unknown); `script`: its command line; null for the sidebar's.
   */
  where?: string | null;
  /**
   * HTCondor clusters: their jobs in the queue (one query for all clusters);
   * null on the local backend.
   */
  queue?: IQueueModel | null;
  /** What one worker job gets; null while unknown (starting). */
  worker_shape?: IWorkerShape | null;
  /** A kept sidebar cluster outlives a graceful stop of the server; null when not kept. */
  keep?: IKeepModel | null;
  /**
   * Packages that differ between the kernel, the scheduler and the workers;
   * null until a worker has answered.
   */
  environment?: IEnvironmentReport | null;
}

/** One package whose version differs between the kernel, the scheduler and the workers. */
export interface IPackageMismatch {
  package: string;
  /** Its version(s) in the kernel; null when unknown. */
  kernel?: string | null;
  scheduler?: string | null;
  /** Version (or `not installed`) -> how many workers have it. */
  workers: Record<string, number>;
}

export interface IEnvironmentReport {
  mismatches: IPackageMismatch[];
  /** How many workers were compared. */
  workers: number;
}

/** Cores, memory and image of one worker job of a cluster. */
export interface IWorkerShape {
  cores: number;
  memory_bytes: number;
  image?: string | null;
}

/**
 * How long a kept cluster waits for the next server to adopt it, and (set
 * once no server owns it) until when, in Unix seconds.
 */
export interface IKeepModel {
  seconds: number;
  until?: number | null;
}

/** What a value of a site's cluster option is. */
export type ClusterOptionType =
  'int' | 'float' | 'memory' | 'select' | 'bool' | 'string';

export type ClusterOptionValue = string | number | boolean;

/**
 * A cluster option the site offers (`GET {base_url}coffea-casa/options`),
 * from the dask config `coffea-casa.options`.
 */
export interface IClusterOption {
  /** A keyword of the cluster: `cores`, `memory`, `worker_image`, ... */
  name: string;
  label: string;
  type: ClusterOptionType;
  description?: string;
  default: ClusterOptionValue;
  /** int, float: numbers; memory: sizes like `2 GiB`. */
  min?: number | string;
  max?: number | string;
  /** select: the values to choose from. */
  choices?: ClusterOptionValue[];
}

/** Values of the site's options, by name. */
export type ClusterOptionValues = Record<string, ClusterOptionValue>;

/** Idle, running and held jobs of an HTCondor cluster, why they are held, and why they wait. */
export interface IQueueModel {
  idle: number;
  running: number;
  held: number;
  hold_reasons: string[];
  /** The pool's analysis in one line, once jobs have waited the site's threshold. */
  idle_reason?: string | null;
  /** The job that analysis is of (Diagnose shows all of it). */
  idle_job?: string | null;
}

/**
 * Optional body of `PUT {base_url}coffea-casa/clusters`.
 */
export interface INewClusterOptions {
  name?: string;
  workers?: number;
  adapt?: IAdaptModel;
  /** Values of the site's cluster options; refused (400) outside its limits. */
  options?: ClusterOptionValues;
  /** Keep it running when the server stops (`true`: the site's keep-for). */
  keep?: boolean | number;
}

/**
 * An error from the REST API, with a message fit to show to a person.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
    /** The server's own message (`{"message": ...}`), without the status. */
    readonly detail: string = ''
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The URL prefix of every coffea-casa route, relative to base_url. */
export const API_NAMESPACE = 'coffea-casa';

type Settings = ServerConnection.ISettings;

/**
 * Send `body` as JSON (if any) with `method` to `clusters/{...path}`, and
 * return the server's answer: by default, the cluster's model.
 */
function send<T = IClusterModel>(
  method: string,
  path: string[],
  settings?: Settings,
  body?: unknown
): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  return requestAPI<T>(['clusters', ...path], init, settings);
}

/** List the clusters the server knows about. */
export async function listClusters(
  settings?: Settings
): Promise<IClusterModel[]> {
  const data = await requestAPI<unknown>(['clusters'], {}, settings);
  if (!Array.isArray(data)) {
    throw new ApiError(
      'The server sent an unexpected answer for the cluster list.'
    );
  }
  return data as IClusterModel[];
}

/** The cluster options the site offers (none: an empty list). */
export async function listClusterOptions(
  settings?: Settings
): Promise<IClusterOption[]> {
  const data = await requestAPI<unknown>(['options'], {}, settings);
  if (!Array.isArray(data)) {
    throw new ApiError(
      'The server sent an unexpected answer for the cluster options.'
    );
  }
  return data as IClusterOption[];
}

/** Ask the server to start a new cluster. */
export const startCluster = (
  options: INewClusterOptions = {},
  settings?: Settings
) => send('PUT', [], settings, options);

/** Scale a cluster to a fixed number of workers (this stops adaptivity). */
export const scaleCluster = (
  id: string,
  workers: number,
  settings?: Settings
) => send('PATCH', [id], settings, { workers });

/** Make a cluster adaptive between `minimum` and `maximum` workers. */
export const adaptCluster = (
  id: string,
  adapt: IAdaptModel,
  settings?: Settings
) => send('PATCH', [id], settings, { adapt });

/** Keep a sidebar cluster running when the server stops, or not. */
export const keepCluster = (id: string, keep: boolean, settings?: Settings) =>
  send('PATCH', [id], settings, { keep });

/** Shut a cluster down, its workers and batch jobs included. */
export const stopCluster = (id: string, settings?: Settings) =>
  send('DELETE', [id], settings);

/** Where a saved performance report is. */
export interface IReportLocation {
  /** Relative to the server's root_dir (what the file browser opens), or null if outside it. */
  path: string | null;
  /** Absolute path on the server. */
  file: string;
}

/** Start recording a Dask performance report on a cluster. */
export const startReport = (id: string, settings?: Settings) =>
  send('POST', [id, 'performance-report'], settings);

/** Stop recording and save the report's HTML on the server. */
export const stopReport = (id: string, settings?: Settings) =>
  send<IReportLocation>('DELETE', [id, 'performance-report'], settings);

/** Install pip requirements on a cluster's workers (distributed's PipInstall). */
export const installPackages = (
  id: string,
  packages: string[],
  settings?: Settings
) => send('POST', [id, 'packages'], settings, { packages });

/** Send a file (relative to the server's root folder) to a cluster's workers. */
export const sendFile = (id: string, path: string, settings?: Settings) =>
  send('POST', [id, 'files'], settings, { path });

/**
 * One plot of a Dask dashboard: a label and its URL, relative to base_url.
 */
export interface IDashboardPlot {
  label: string;
  /** e.g. `coffea-casa/dashboard/{id}/individual-task-stream`. */
  path: string;
}

/**
 * The dashboard's individual plots (from its `individual-plots.json`), read
 * through our proxy. Fails when the dashboard does not answer.
 */
export async function listDashboardPlots(
  id: string,
  settings?: Settings
): Promise<IDashboardPlot[]> {
  const data = await requestAPI<unknown>(
    ['dashboard', id, 'individual-plots.json'],
    {},
    settings
  );
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new ApiError('The dashboard sent an unexpected list of plots.');
  }
  return Object.entries(data as Record<string, unknown>)
    .filter(([, route]) => typeof route === 'string')
    .map(([title, route]) => ({
      label: title.replace(/^Individual /, ''),
      path: URLExt.join(
        API_NAMESPACE,
        'dashboard',
        id,
        String(route).replace(/^\/+/, '')
      )
    }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/**
 * An HTCondor job (one Dask worker) of a cluster.
 */
export interface IJobModel {
  id: string;
  status: string;
  host?: string | null;
  /** ISO 8601, or a Unix time in seconds. */
  start_time?: string | number | null;
  worker_name?: string | null;
  /** HTCondor's HoldReason, for a held job. */
  hold_reason?: string | null;
  /** Local backend: the worker's directory (its shell opens there). */
  directory?: string | null;
  /** Unix seconds: asked for, idle since, running since (this run), evicted, ended. */
  submitted?: number | null;
  idle_since?: number | null;
  running_since?: number | null;
  evicted?: number | null;
  ended?: number | null;
  /** How many times it started. */
  runs?: number | null;
  /** How it ended, once it did. */
  end?: IJobEnd | null;
  /** False once it left the queue (or its process ended, locally). */
  in_queue?: boolean;
}

/** How a job ended: `exited` (code), `signal`, `removed` (by whom), `lost`. */
export interface IJobEnd {
  kind: 'exited' | 'signal' | 'removed' | 'lost';
  /** e.g. `exited with code 3`, `removed by condor`, `removed by the cluster: scaled down`. */
  text: string;
  code?: number | null;
  signal?: number | null;
  by?: string | null;
  reason?: string | null;
  /** It was held when removed: why. */
  held?: string | null;
}

/** Diagnose: the pool's own analysis of one queued job. */
export interface IJobAnalysis {
  id: string;
  status: string;
  /** The one line the card shows; null when the analysis says nothing clear. */
  summary?: string | null;
  /** condor_q -better-analyze's text. */
  text: string;
}

/**
 * stdout and stderr of a job.
 */
export interface IJobLogs {
  stdout: string;
  stderr: string;
  /** `files`: the job's output files; `dask`: the worker's Dask log. */
  source?: string;
  /** Why stderr is the Dask log, when it is. */
  note?: string | null;
}

/** The batch jobs of a cluster. */
export async function listJobs(
  id: string,
  settings?: Settings
): Promise<IJobModel[]> {
  const data = await requestAPI<unknown>(
    ['clusters', id, 'jobs'],
    {},
    settings
  );
  const jobs = Array.isArray(data)
    ? data
    : Array.isArray((data as { jobs?: unknown })?.jobs)
      ? (data as { jobs: unknown[] }).jobs
      : null;
  if (!jobs) {
    throw new ApiError('The server sent an unexpected answer for the jobs.');
  }
  return (jobs as IJobModel[]).map(job => ({ ...job, id: String(job.id) }));
}

/** Kill (condor_rm) one job of a cluster. */
export const killJob = (id: string, job: string, settings?: Settings) =>
  send<unknown>('DELETE', [id, 'jobs', job], settings);

/** Release (condor_release) one held job of a cluster. */
export const releaseJob = (id: string, job: string, settings?: Settings) =>
  send<unknown>('POST', [id, 'jobs', job, 'release'], settings);

/** stdout and stderr of one job. */
export async function jobLogs(
  id: string,
  job: string,
  settings?: Settings
): Promise<IJobLogs> {
  const data = await requestAPI<Partial<IJobLogs>>(
    ['clusters', id, 'jobs', job, 'logs'],
    {},
    settings
  );
  return {
    stdout: data?.stdout ?? '',
    stderr: data?.stderr ?? '',
    source: data?.source,
    note: data?.note ?? null
  };
}

/** Diagnose: the pool's analysis of one queued job (condor_q -better-analyze). */
export const jobAnalysis = (id: string, job: string, settings?: Settings) =>
  requestAPI<IJobAnalysis>(
    ['clusters', id, 'jobs', job, 'analysis'],
    {},
    settings
  );

/**
 * Call a coffea-casa route and return its parsed JSON body.
 *
 * Network failures and HTTP errors become `ApiError`s with readable messages.
 */
export async function requestAPI<T>(
  path: string[],
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(
    settings.baseUrl,
    API_NAMESPACE,
    ...path.map(encodeURIComponent)
  );
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(
      `Cannot reach the Jupyter server (${errorMessage(error)}).`
    );
  }
  const text = await response.text();
  if (!response.ok) {
    throw new ApiError(
      describeFailure(response, text, url),
      response.status,
      serverMessage(text)
    );
  }
  if (!text) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(`The server sent a response that is not JSON (${url}).`);
  }
}

/** An error as one line of text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Turn a failed response into one readable sentence.
 */
function describeFailure(
  response: Response,
  body: string,
  url: string
): string {
  const status = `${response.status} ${response.statusText}`.trim();
  const detail = serverMessage(body);
  if (response.status === 404 && (!detail || detail === 'Not Found')) {
    return (
      `The coffea-casa server extension did not answer (${status} for ${url}). ` +
      'Is coffea_casa_lab enabled on this Jupyter server?'
    );
  }
  if (response.status === 401 || response.status === 403) {
    return `Not allowed (${status}). Your Jupyter session may have expired: reload the page.`;
  }
  return detail ? `${detail} (${status})` : `Request failed: ${status}`;
}

/**
 * Jupyter server errors are JSON like `{"message": ..., "reason": ...}`.
 */
function serverMessage(body: string): string {
  try {
    const data = JSON.parse(body);
    return String(data.message || data.reason || data.error || '').trim();
  } catch {
    return '';
  }
}
