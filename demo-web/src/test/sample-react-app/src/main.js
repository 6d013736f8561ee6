// The sample app: what a React developer writes with @cairn/client from npm. Plain JavaScript
// with createElement, so the build needs nothing but Vite. The page's query names the user, the
// sync server and a token (a test mints it): ?user=ada&server=ws://127.0.0.1:8080/sync&token=...
import { createElement as h, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { PersistenceProvider, usePersistentState, useUIState, useSyncStatus } from '@cairn/client/react';

const query = new URLSearchParams(location.search);
const user = query.get('user') ?? 'sample';
const server = { url: query.get('server') ?? `ws://${location.host}/sync`, token: async () => query.get('token') ?? '' };

function Status() {
  const { state, pending, error, lastError } = useSyncStatus();
  return h('p', null,
    h('span', { id: 'sync-state' }, state), ' ',
    h('span', { id: 'sync-pending' }, String(pending)), ' ',
    h('span', { id: 'sync-error' }, error ?? ''), ' ',
    h('span', { id: 'sync-message' }, lastError?.message ?? ''));
}

function Note() {
  const { value, setValue } = usePersistentState('note', { text: '' });
  const [wide, setWide] = useUIState('wide', false);
  return h('div', null,
    h('input', { id: 'note', value: value.text, onChange: (e) => setValue((v) => ({ ...v, text: e.target.value })) }),
    h('output', { id: 'note-shown' }, value.text),
    h('label', null, h('input', { id: 'wide', type: 'checkbox', checked: wide, onChange: (e) => setWide(e.target.checked) }), ' wide'));
}

createRoot(document.getElementById('root')).render(
  h(StrictMode, null,
    h(PersistenceProvider, { options: { user, server }, fallback: h('p', { id: 'loading' }, 'loading'), onError: (e) => console.error(e) },
      h(Status), h(Note))));
