// Where each view's live data comes from (see live.ts for the SSE seam).
import { api } from './client';
import { polled, type Live } from './live';
import type { Application, ResourceNode } from './types';

export function applicationsSource(): Live<Application[]> {
  return polled((signal) => api.listApplications(signal));
}

export function applicationSource(name: string, namespace: string): Live<Application> {
  return polled((signal) => api.getApplication(name, namespace, signal));
}

export function resourceTreeSource(name: string, namespace: string): Live<ResourceNode[]> {
  return polled((signal) => api.resourceTree(name, namespace, signal));
}
