/// <reference types="vite/client" />
import { portForwardCommand } from './portforward';

test('port-forward commands for services and pods only', () => {
  expect(portForwardCommand({ kind: 'Service', namespace: 'gb', name: 'web' })).toBe(
    'kubectl port-forward --namespace gb service/web 8080:PORT',
  );
  expect(portForwardCommand({ kind: 'Pod', namespace: 'gb', name: 'web-0' })).toBe(
    'kubectl port-forward --namespace gb pod/web-0 8080:PORT',
  );
  expect(portForwardCommand({ group: 'apps', kind: 'Deployment', namespace: 'gb', name: 'web' })).toBeUndefined();
  expect(portForwardCommand({ group: 'serving.knative.dev', kind: 'Service', name: 'web' })).toBeUndefined();
});

// The UI must never link to the virtual-cluster proxy, least of all to a
// service, pod or node proxy subresource: a tenant's page there would be on
// gantry's origin. No source file builds such a URL.
test('no source file builds a proxy URL on gantry', () => {
  const sources = import.meta.glob(['../**/*.{ts,tsx}', '!../**/*.test.{ts,tsx}', '!../test/**'], {
    query: '?raw',
    import: 'default',
    eager: true,
  }) as Record<string, string>;
  expect(Object.keys(sources).length).toBeGreaterThan(10);
  for (const [file, text] of Object.entries(sources)) {
    for (const needle of ['/kubernetes/', '/proxy']) {
      if (text.includes(needle)) throw new Error(`${file} contains ${needle}: show a kubectl command instead of linking there`);
    }
  }
});
