// Inline SVG icons (no icon font, nothing fetched): 16×16, currentColor.
import type { IconName } from '../lib/status';

const paths: Record<
  IconName | 'search' | 'refresh' | 'sync' | 'trash' | 'close' | 'history' | 'logout' | 'plus' | 'copy' | 'download' | 'moon' | 'sun' | 'plug',
  string
> = {
  heart: 'M8 14s-5.5-3.4-5.5-7.2C2.5 4.6 4 3 5.8 3 6.9 3 7.6 3.6 8 4.3 8.4 3.6 9.1 3 10.2 3 12 3 13.5 4.6 13.5 6.8 13.5 10.6 8 14 8 14z',
  'heart-broken':
    'M8 14s-5.5-3.4-5.5-7.2C2.5 4.6 4 3 5.8 3c1 0 1.7.5 2.1 1.1L7 7l2 1.5-1 2.5 2.5-3-2-1.5.8-2.3C9.7 3.4 10.3 3 11 3c1.4.2 2.5 1.7 2.5 3.8C13.5 10.6 8 14 8 14z',
  spinner: 'M8 1.5a6.5 6.5 0 1 0 6.5 6.5h-2A4.5 4.5 0 1 1 8 3.5z',
  pause: 'M4 3h3v10H4zM9 3h3v10H9z',
  ghost: 'M8 1.5A5 5 0 0 0 3 6.5V14l1.7-1.2L6.3 14 8 12.8 9.7 14l1.6-1.2L13 14V6.5a5 5 0 0 0-5-5zM6 5.5a1 1 0 1 1 0 2 1 1 0 0 1 0-2zm4 0a1 1 0 1 1 0 2 1 1 0 0 1 0-2z',
  question:
    'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm.1 10.7a.9.9 0 1 1 0-1.8.9.9 0 0 1 0 1.8zM9.4 8c-.6.4-.7.6-.7 1.1H7.3c0-1 .3-1.5 1.1-2 .5-.3.7-.6.7-1 0-.5-.4-.8-1-.8s-1 .3-1.1.9H5.6C5.7 4.9 6.6 4.2 8.1 4.2c1.5 0 2.4.8 2.4 1.9 0 .8-.4 1.4-1.1 1.9z',
  check: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM7 11 4 8l1.1-1.1L7 8.8l3.9-3.9L12 6z',
  'arrow-up': 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm.8 10.5H7.2V7.1L5.1 9.2 4 8l4-4 4 4-1.1 1.2-2.1-2.1z',
  x: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm2.8 8.2-1.1 1.1L8 9.1l-1.7 1.7-1.1-1.1L6.9 8 5.2 6.3l1.1-1.1L8 6.9l1.7-1.7 1.1 1.1L9.1 8z',
  search: 'M7 2a5 5 0 1 0 3 9l3 3 1-1-3-3A5 5 0 0 0 7 2zm0 1.5a3.5 3.5 0 1 1 0 7 3.5 3.5 0 0 1 0-7z',
  refresh: 'M13 3v4H9l1.5-1.5A3.5 3.5 0 1 0 11.4 9h1.6A5 5 0 1 1 11.6 4.4z',
  sync: 'M8 2a6 6 0 0 1 5.2 3H11v1.5h4.5V2H14v1.7A7.5 7.5 0 0 0 .6 7H2.1A6 6 0 0 1 8 2zm0 12a6 6 0 0 1-5.2-3H5V9.5H.5V14H2v-1.7A7.5 7.5 0 0 0 15.4 9h-1.5A6 6 0 0 1 8 14z',
  trash: 'M6 1.5h4l.5 1H14V4H2V2.5h3.5zM3 5h10l-.8 9.5H3.8z',
  close: 'M3.5 2.4 8 6.9l4.5-4.5 1.1 1.1L9.1 8l4.5 4.5-1.1 1.1L8 9.1l-4.5 4.5-1.1-1.1L6.9 8 2.4 3.5z',
  history: 'M8.5 1.5A6.5 6.5 0 0 0 2.1 7H0l2.8 3L5.6 7H3.6A5 5 0 1 1 8.5 13a5 5 0 0 1-3.5-1.4L4 12.7A6.5 6.5 0 1 0 8.5 1.5zM8 4.5V9l3.5 2 .7-1.2L9.5 8.2V4.5z',
  logout: 'M2 2h6v1.5H3.5v9H8V14H2zm8 2.5L13.5 8 10 11.5l-1-1 1.8-1.8H6V7.3h4.8L9 5.5z',
  plus: 'M7.2 2h1.6v5.2H14v1.6H8.8V14H7.2V8.8H2V7.2h5.2z',
  copy: 'M5 1.5h7.5A1.5 1.5 0 0 1 14 3v8h-1.5V3H5zM2 5a1.5 1.5 0 0 1 1.5-1.5h6A1.5 1.5 0 0 1 11 5v8.5A1.5 1.5 0 0 1 9.5 15h-6A1.5 1.5 0 0 1 2 13.5zm1.5 0v8.5h6V5z',
  download: 'M7.2 1.5h1.6v7.3l2.4-2.4 1.1 1.1L8 11.8 3.7 7.5l1.1-1.1 2.4 2.4zM2 12.5h1.5V14h9v-1.5H14V15.5H2z',
  moon: 'M6.5 1.5a6.5 6.5 0 1 0 8 8A5.5 5.5 0 0 1 6.5 1.5z',
  sun: 'M8 4.5a3.5 3.5 0 1 1 0 7 3.5 3.5 0 0 1 0-7zM7.3 0h1.4v2.5H7.3zm0 13.5h1.4V16H7.3zM0 7.3h2.5v1.4H0zm13.5 0H16v1.4h-2.5zM2.1 3.1l1-1 1.8 1.8-1 1zm8.9 8.9 1-1 1.8 1.8-1 1zM2.1 12.9l1.8-1.8 1 1-1.8 1.8zm8.9-8.9 1.8-1.8 1 1-1.8 1.8z',
  plug: 'M5 1h1.5v3.5h3V1H11v3.5h1.5V8A4.5 4.5 0 0 1 8.8 12.4V15H7.2v-2.6A4.5 4.5 0 0 1 3.5 8V4.5H5z',
};

export type AnyIcon = keyof typeof paths;

export function Icon({ name, className, title }: { name: AnyIcon; className?: string; title?: string }) {
  return (
    <svg
      className={'icon ' + (className ?? '') + (name === 'spinner' ? ' icon-spin' : '')}
      viewBox="0 0 16 16"
      width="16"
      height="16"
      aria-hidden={title ? undefined : true}
      role={title ? 'img' : undefined}
      focusable="false"
    >
      {title && <title>{title}</title>}
      <path d={paths[name]} fill="currentColor" fillRule="evenodd" />
    </svg>
  );
}
