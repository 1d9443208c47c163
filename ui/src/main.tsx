import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { APPLICATIONS_STREAM, APPLICATIONS_STREAM_EVENTS } from './api/sources';
import { preopenStream } from './api/live';
import './styles.css';

// The application list is the start page: ask for it while the page starts.
if (['/', '/applications'].includes(window.location.pathname)) preopenStream(APPLICATIONS_STREAM, APPLICATIONS_STREAM_EVENTS);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
