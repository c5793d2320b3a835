// The admin page: lists orders, shows one, changes its status with If-Match, follows it live.
const $ = (id) => document.getElementById(id);
const state = { csrf: null, lifecycle: null, selected: null, version: null, status: null, orderEvents: null };

async function api(path, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(method !== 'GET' && state.csrf && { 'x-csrf-token': state.csrf }),
      ...headers,
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  return { res, data };
}

const money = (m) => `${(m.amount / 100).toFixed(2)} ${m.currency}`;
function el(tag, attrs = {}, text = '') {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.textContent = text;
  return node;
}

// ---- login ----------------------------------------------------------------------------------------

async function boot() {
  const { res, data } = await api('/session');
  if (res.ok) return start(data);
  $('login').hidden = false;
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const { res, data } = await api('/login', { method: 'POST', body: { username: form.get('username'), password: form.get('password') } });
  if (!res.ok) return void ($('login-error').textContent = data?.title ?? 'Login failed');
  $('login').hidden = true;
  start(data);
});

$('logout').addEventListener('click', async () => {
  await api('/logout', { method: 'POST' });
  location.reload();
});

async function start(session) {
  state.csrf = session.csrfToken;
  $('who').textContent = session.admin;
  $('who').hidden = $('logout').hidden = false;
  $('app').hidden = false;
  state.lifecycle = (await api('/lifecycle')).data;
  const { data } = await api('/orders');
  for (const order of data.orders) upsertRow(order);
  // Every order's number and status, live; a reconnect resumes from the last message (Last-Event-ID).
  new EventSource('/events').addEventListener('order', (event) => {
    const message = JSON.parse(event.data);
    if (message.order) upsertRow(message.order);
  });
}

// ---- the list ---------------------------------------------------------------------------------------

function upsertRow(order) {
  let row = document.querySelector(`tr[data-order-id="${order.id}"]`);
  if (!row) {
    row = el('tr', { 'data-order-id': order.id });
    row.addEventListener('click', () => select(order.id));
    $('orders').prepend(row);
  }
  row.replaceChildren(
    el('td', { class: 'number' }, order.number ?? 'numbering…'),
    el('td', {}, '').appendChild(el('span', { class: 'status', 'data-status': order.status }, order.status)).parentNode,
    el('td', {}, order.customer),
    el('td', {}, money(order.total)),
  );
  row.classList.toggle('selected', order.id === state.selected);
}

$('demo-order').addEventListener('click', async () => {
  const n = Math.floor(Math.random() * 3) + 1;
  await api('/orders', {
    method: 'POST',
    headers: { 'idempotency-key': crypto.randomUUID() },
    body: {
      customer: { name: 'Demo Customer', email: 'demo@example.com', phone: '+4915112345678' },
      currency: 'EUR',
      lines: [{ sku: 'PIZZA-M', name: 'Pizza Margherita', quantity: n, unitPrice: { amount: 950, currency: 'EUR' } }],
    },
  });
});

// ---- one order ----------------------------------------------------------------------------------------

async function select(orderId) {
  state.selected = orderId;
  document.querySelectorAll('tbody tr').forEach((r) => r.classList.toggle('selected', r.dataset.orderId === orderId));
  $('conflict').hidden = true;
  $('message').textContent = $('error').textContent = '';
  await refresh();
  state.orderEvents?.close();
  $('live').textContent = 'connecting…';
  const source = new EventSource(`/orders/${orderId}/events`);
  source.addEventListener('open', () => ($('live').textContent = 'live'));
  source.addEventListener('error', () => ($('live').textContent = 'reconnecting…'));
  source.addEventListener('order', (event) => {
    const message = JSON.parse(event.data);
    if (message.order?.id !== state.selected) return;
    render(message.order);
    if (message.stream.startsWith('order-')) loadHistory();
  });
  state.orderEvents = source;
}

/** Reads the order (its version is the ETag) and its history. */
async function refresh() {
  const { res, data } = await api(`/orders/${state.selected}`);
  if (!res.ok) return void ($('error').textContent = data?.title ?? 'Could not load the order');
  render({ ...data.order, version: data.version, notifications: data.notifications });
  $('detail').hidden = false;
  await loadHistory();
}

async function loadHistory() {
  const { data } = await api(`/orders/${state.selected}/history`);
  $('history').replaceChildren(
    ...(data?.history ?? []).map((h) =>
      el('li', { 'data-type': h.type }, `${h.at.slice(0, 19).replace('T', ' ')} · ${h.type}${h.data.to ? ` → ${h.data.to}` : ''}${h.data.number ? ` ${h.data.number}` : ''}${h.actor ? ` · by ${h.actor}` : ''}${h.reason ? ` · “${h.reason}”` : ''}`),
    ),
  );
}

/** Shows an order; never goes back to an older version than the one shown. */
function render(order) {
  const version = BigInt(order.version);
  if (state.version !== null && state.orderId === order.id && version < BigInt(state.version)) return;
  state.orderId = order.id;
  state.version = String(version);
  state.status = order.status;
  $('number').textContent = order.number ?? '(numbering…)';
  $('status').textContent = order.status;
  $('status').dataset.status = order.status;
  $('version').textContent = state.version;
  const allowed = state.lifecycle.transitions[order.status] ?? [];
  $('actions').replaceChildren(
    ...allowed.map((to) => {
      const button = el('button', { type: 'button', 'data-to': to }, to === 'cancelled' ? 'Cancel' : to[0].toUpperCase() + to.slice(1).replaceAll('_', ' '));
      // The second click of a double click (detail 2) would land on whatever button the first
      // click's answer put here: ignore it. Repeats that do reach the server are one command anyway.
      button.addEventListener('click', (event) => event.detail <= 1 && changeStatus(to));
      return button;
    }),
  );
  if (order.notifications) {
    $('notifications').replaceChildren(
      ...order.notifications.map((n) =>
        el('li', { 'data-channel': n.channel, 'data-status': n.status, 'data-key': n.dedupeKey }, `${n.channel} · ${n.template} · ${n.status}${n.attempts > 1 ? ` (attempt ${n.attempts})` : ''}${n.status === 'retrying' && n.lastError ? `: ${n.lastError}` : ''}`),
      ),
    );
  }
}

/**
 * Asks for a status change at the version on screen. The Idempotency-Key names the intent (this
 * order, this version, this target), so a double click or a retry is one change.
 */
async function changeStatus(to) {
  const orderId = state.selected;
  const version = state.version;
  $('message').textContent = $('error').textContent = '';
  const { res, data } = await api(`/orders/${orderId}/status`, {
    method: 'POST',
    headers: { 'if-match': `"${version}"`, 'idempotency-key': `${orderId}:${version}:${to}` },
    body: { to },
  });
  if (res.ok) {
    render({ ...data.order, version: data.version });
    $('message').textContent = data.message;
    return;
  }
  if (res.status === 412) {
    const now = (await api(`/orders/${orderId}`)).data;
    $('conflict-text').textContent =
      `Someone else changed this order: it is now ${now?.order.status ?? '?'} (version ${data.currentVersion}). ` +
      `Your change to ${to} was not applied.`;
    $('conflict').dataset.currentStatus = now?.order.status ?? '';
    $('conflict').hidden = false;
    return;
  }
  $('error').textContent = `${data?.title ?? `Error ${res.status}`}${data?.detail ? `: ${data.detail}` : ''}`;
}

$('reload').addEventListener('click', async () => {
  $('conflict').hidden = true;
  await refresh();
});

boot();
