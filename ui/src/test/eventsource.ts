import { vi } from 'vitest';

/** A stand-in for the browser's EventSource: tests push messages and failures. */
export class FakeEventSource {
  static all: FakeEventSource[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string; type: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, ((e: { data: string; type: string }) => void)[]>();
  constructor(readonly url: string) {
    FakeEventSource.all.push(this);
  }
  addEventListener(name: string, fn: (e: { data: string; type: string }) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
  }
  removeEventListener(name: string, fn: (e: { data: string; type: string }) => void) {
    this.listeners.set(name, (this.listeners.get(name) ?? []).filter((f) => f !== fn));
  }
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  send(data: unknown, event?: string) {
    const e = { data: JSON.stringify(data), type: event ?? 'message' };
    if (event) this.listeners.get(event)?.forEach((fn) => fn(e));
    else this.onmessage?.(e);
  }
  /** The server refused the stream (404, 501, not an event stream). */
  refuse() {
    this.readyState = 2;
    this.onerror?.();
  }
  static install() {
    FakeEventSource.all = [];
    vi.stubGlobal('EventSource', FakeEventSource);
  }
  static last(): FakeEventSource {
    return FakeEventSource.all[FakeEventSource.all.length - 1];
  }
}
