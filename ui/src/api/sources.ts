// Where each view's live data comes from. Applications and virtual clusters
// follow gantry's server-sent-event streams (an Argo CD-shaped
// /api/v1/stream/applications, and /api/v1/virtualclusters?watch=true), each
// falling back to polling when its stream is unavailable; the rest is polled.
import { api, ApiError } from './client';
import { polled, streamed, type Live, type StreamMessage, type StreamOp } from './live';
import type { Application, ApplicationStreamEvent, Project, ResourceNode, VirtualCluster, VirtualClusterEvent } from './types';

const enc = encodeURIComponent;

/** Argo CD's application stream → list operations (see appapi.StreamEvent). */
export function decodeAppEvent(m: StreamMessage): StreamOp<Application>[] {
  if (m.event === 'synced') return [{ op: 'ready' }];
  const ev = JSON.parse(m.data) as ApplicationStreamEvent;
  if (ev.error) return [{ op: 'error', message: ev.error.message }];
  const r = ev.result;
  if (!r?.application) return [];
  return [r.type === 'DELETED' ? { op: 'delete', item: r.application } : { op: 'put', item: r.application }];
}

/** The virtual-cluster stream → list operations (see vcapi.Event). */
export function decodeVCEvent(m: StreamMessage): StreamOp<VirtualCluster>[] {
  const ev = JSON.parse(m.data) as VirtualClusterEvent;
  switch (ev.type) {
    case 'LIST':
      return [{ op: 'reset', items: ev.items ?? [] }];
    case 'ADDED':
    case 'MODIFIED':
      return ev.object ? [{ op: 'put', item: ev.object }] : [];
    case 'DELETED':
      return ev.object ? [{ op: 'delete', item: ev.object }] : [];
    case 'ERROR':
      return [{ op: 'error', message: ev.message ?? 'the stream ended' }];
  }
  return [];
}

const appKey = (a: Application) => (a.metadata.namespace ?? '') + '/' + a.metadata.name;
export const vcKey = (v: VirtualCluster) => v.project + '/' + v.name;

/** The stream of every application the user may see (the start page's list). */
export const APPLICATIONS_STREAM = '/api/v1/stream/applications';
export const APPLICATIONS_STREAM_EVENTS = ['synced'];

/** Every application the user may see, or one project's. */
export function applicationsSource(project?: string): Live<Application[]> {
  return streamed({
    url: APPLICATIONS_STREAM + (project ? '?projects=' + enc(project) : ''),
    events: APPLICATIONS_STREAM_EVENTS,
    decode: decodeAppEvent,
    key: appKey,
    select: (items) => items,
    fallback: () => polled((signal) => api.listApplications(signal, project)),
  });
}

export function applicationSource(name: string, namespace: string): Live<Application> {
  return streamed({
    url: `/api/v1/stream/applications?name=${enc(name)}` + (namespace ? `&appNamespace=${enc(namespace)}` : ''),
    events: ['synced'],
    decode: decodeAppEvent,
    key: appKey,
    select: (items) => {
      if (!items[0]) throw new ApiError(404, `application ${name} not found`);
      return items[0];
    },
    fallback: () => polled((signal) => api.getApplication(name, namespace, signal)),
  });
}

export function resourceTreeSource(name: string, namespace: string): Live<ResourceNode[]> {
  return polled((signal) => api.resourceTree(name, namespace, signal));
}

/** Every virtual cluster the user may see, or one project's. */
export function virtualClustersSource(project?: string): Live<VirtualCluster[]> {
  return streamed({
    url: '/api/v1/virtualclusters?watch=true' + (project ? '&project=' + enc(project) : ''),
    decode: decodeVCEvent,
    key: vcKey,
    select: (items) => items,
    fallback: () => polled((signal) => api.listVirtualClusters(project, signal)),
  });
}

export function virtualClusterSource(project: string, name: string): Live<VirtualCluster> {
  return streamed({
    url: `/api/v1/virtualclusters/${enc(project)}/${enc(name)}?watch=true`,
    decode: decodeVCEvent,
    key: vcKey,
    select: (items) => {
      if (!items[0]) throw new ApiError(404, `virtual cluster ${name} not found in project ${project}`);
      return items[0];
    },
    fallback: () => polled((signal) => api.getVirtualCluster(project, name, signal)),
  });
}

export function projectsSource(): Live<Project[]> {
  return polled((signal) => api.listProjects(signal));
}

/** One project, polled every second: its conditions (the Argo CD integration) change on their own. */
export function projectSource(name: string): Live<Project> {
  return polled((signal) => api.getProject(name, signal), 1000);
}
