// The Kafka view: the layout (GET /balancer/layout), a plan search (GET /balancer), its
// execution (POST /balancer) and progress (GET /balancer/{token}), cancel (DELETE) and the
// plans Fulcrum keeps (GET /balancer/plans).

import { api } from './api.js';
import { $, h, fill, table, bytes, num, when, duration, progress } from './dom.js';

const FUNCTIONS = ['ReplicaSizeCost', 'ReplicaLeaderCost', 'DirectorySizeCost', 'ReplicaCountCost', 'TopicSpreadCost'];
const DEFAULT_FUNCTIONS = new Set(['ReplicaSizeCost', 'ReplicaLeaderCost']);
const MAX_CHANGE_ROWS = 500;
const RUN_POLL_MS = 1000;
const PLANS_POLL_MS = 5000;

let layout = null;  // the last layout read
let plan = null;    // the last proposal, with the layout it was made on
let running = null; // token of the plan being watched
let opened = null;  // token of the plan opened from the list: a live plan does not replace it
let runTimer = null;
let plansTimer = null;
let lastAnnounced = '';
let focusRun = false; // move the focus to the plan's status once it is shown (after Execute, or a plan opened)
let onError = () => {};
let started = false;

export function startKafka(reportError) {
  onError = reportError;
  fill($('functions'), FUNCTIONS.map((f) => h('label', null,
    h('input', { type: 'checkbox', name: 'fn', value: f, checked: DEFAULT_FUNCTIONS.has(f) }), ' ', f,
    h('input', { type: 'number', name: 'w-' + f, min: '0', step: 'any', value: '1', 'aria-label': 'weight of ' + f }))));
  $('propose').addEventListener('submit', (e) => { e.preventDefault(); propose(); });
  $('layout-refresh').addEventListener('click', () => loadLayout());
  $('execute').addEventListener('click', execute);
  $('run-cancel').addEventListener('click', (e) => cancel(e.currentTarget.dataset.token));
  $('confirm').addEventListener('keydown', trapTab);
  // Execute is the form's only submit button, so Enter in the throttle field executes too.
  $('confirm-form').addEventListener('submit', (e) => { e.preventDefault(); answer(true); });
  $('confirm-back').addEventListener('click', () => answer(false));
  $('confirm').addEventListener('cancel', () => answer(false)); // Escape
  // Closed another way (Chrome closes without a cancel event on a second Escape without
  // user activation between). A close event of an earlier confirmation, arriving once the
  // next is open, is not for it.
  $('confirm').addEventListener('close', (e) => { if (!e.currentTarget.open) answer(false); });
  document.addEventListener('visibilitychange', () => { if (visible()) showKafka(); });
}

function visible() { return !$('kafka').hidden && document.visibilityState === 'visible'; }

// showKafka is called whenever the view comes on screen.
export function showKafka() {
  if (!started) {
    started = true;
    loadLayout();
  }
  loadPlans();
}

async function loadLayout() {
  try {
    layout = await api('/balancer/layout', { timeoutMs: 30000 });
    renderLayout();
    onError('layout', null);
  } catch (e) {
    // 409 while a plan reassigns partitions: Kafka's layout is in motion.
    onError('layout', e);
  }
}

function renderLayout() {
  $('layout-updated').textContent = 'read ' + when(layout.readAt);
  const maxBytes = Math.max(1, ...layout.brokers.map((b) => b.bytes));
  fill($('brokers'), layout.brokers.map((b) => h('article', { class: 'broker', 'data-broker': b.id, 'aria-label': 'broker ' + b.id },
    h('h4', null, `Broker ${b.id}`, ' ', b.rack ? h('span', { class: 'badge info' }, b.rack) : h('span', { class: 'badge warn' }, 'no rack')),
    h('div', { class: 'meter', role: 'img', 'aria-label': `${bytes(b.bytes)}, ${Math.round(100 * b.bytes / maxBytes)}% of the fullest broker` },
      h('span', { style: { width: (100 * b.bytes / maxBytes) + '%' } })),
    h('p', { class: 'small' }, `${bytes(b.bytes)} · ${b.replicas} replicas · ${b.leaders} leaders (${b.preferredLeaders} preferred)`),
    b.dirs.map((d) => h('div', { class: 'dir' },
      h('div', { class: 'path', title: d.directory }, shortDir(d.directory)),
      d.totalBytes ? h('div', { class: 'meter', role: 'img', 'aria-label': `volume ${Math.round(100 * (d.totalBytes - d.usableBytes) / d.totalBytes)}% used` },
        h('span', { style: { width: (100 * (d.totalBytes - d.usableBytes) / d.totalBytes) + '%' } })) : null,
      h('div', { class: 'small' }, bytes(d.bytes) + (d.totalBytes ? ` · volume ${bytes(d.totalBytes - d.usableBytes)} of ${bytes(d.totalBytes)} used` : ''))))),
  ));
  const chosen = new Set([...document.querySelectorAll('#topics input:checked')].map((i) => i.value));
  const topics = layout.topics.filter((t) => !t.internal);
  fill($('topics'), topics.length === 0 ? h('span', { class: 'muted' }, 'No topic.') : topics.map((t) => h('label', null,
    h('input', { type: 'checkbox', name: 'topic', value: t.name, checked: chosen.has(t.name) }), ` ${t.name} (${t.partitions})`)));
}

// shortDir keeps the last two path elements: log dirs share long prefixes.
function shortDir(p) {
  const parts = p.split('/').filter(Boolean);
  return parts.length > 2 ? '…/' + parts.slice(-2).join('/') : p;
}

function query() {
  const f = $('propose');
  const q = new URLSearchParams();
  const topics = [...f.querySelectorAll('input[name=topic]:checked')].map((i) => i.value);
  if (topics.length) q.set('topics', topics.join(','));
  const fns = [...f.querySelectorAll('input[name=fn]:checked')].map((i) => {
    const w = f.elements['w-' + i.value].value.trim();
    return w && w !== '1' ? `${i.value}:${w}` : i.value;
  });
  if (fns.length) q.set('function', fns.join(','));
  for (const k of ['limit', 'timeout', 'maxMoveBytes', 'maxMoves', 'excludeBrokers', 'targetBrokers', 'maxDiskUsage', 'minGain', 'seed']) {
    const v = f.elements[k].value.trim();
    if (v !== '') q.set(k, v);
  }
  return q;
}

async function propose() {
  const btn = $('propose-submit');
  btn.disabled = true;
  $('propose-state').textContent = 'Reading Kafka and searching…';
  try {
    await loadLayout(); // the bars compare against the layout the plan is made on
    if (!layout) throw new Error('the layout could not be read');
    const q = query();
    const report = await api('/balancer?' + q.toString(), { timeoutMs: 6 * 60 * 1000 });
    plan = { report, layout };
    renderPlan();
    $('propose-state').textContent = `Plan ready: ${report.changes.length} changes.`;
    onError('propose', null);
  } catch (e) {
    $('propose-state').textContent = 'No plan.';
    onError('propose', e);
  } finally {
    btn.disabled = false;
  }
}

// sizeOf is a change's partition at its planning size: its largest replica before.
function sizeOf(change) {
  return Math.max(0, ...change.before.map((r) => r.size || 0));
}

// after applies the plan's changes to the layout's sums: each change takes its partition
// (at its planning size, sizeOf) off the old replicas and puts it on the new ones, and
// moves a preferred leader from the old first replica to the new one.
function after(l, changes) {
  const brokers = new Map(l.brokers.map((b) => [b.id, { bytes: b.bytes, leaders: b.preferredLeaders }]));
  const dirs = new Map();
  for (const b of l.brokers) for (const d of b.dirs) dirs.set(b.id + '\u0000' + d.directory, d.bytes);
  const add = (id, dir, n) => {
    const b = brokers.get(id);
    if (b) b.bytes += n;
    const k = id + '\u0000' + dir;
    if (dirs.has(k)) dirs.set(k, dirs.get(k) + n);
  };
  for (const c of changes) {
    const size = sizeOf(c);
    for (const r of c.before) add(r.brokerId, r.directory, -size);
    for (const r of c.after) add(r.brokerId, r.directory, size);
    if (c.before.length && brokers.has(c.before[0].brokerId)) brokers.get(c.before[0].brokerId).leaders--;
    if (c.after.length && brokers.has(c.after[0].brokerId)) brokers.get(c.after[0].brokerId).leaders++;
  }
  return { brokers, dirs };
}

function renderPlan() {
  const { report: r, layout: l } = plan;
  const a = after(l, r.changes);
  const summary = [
    ['Cost before', num(r.cost)], ['Cost after', num(r.newCost)],
    ['Improvement', r.cost > 0 ? Math.round(100 * (r.cost - r.newCost) / r.cost) + '%' : '–'],
    ['Bytes moved', bytes(r.movedBytes)], ['Partitions moved', r.movedPartitions],
    ['Changes', r.changes.length], ['Candidates', num(r.limit)], ['Functions', r.function],
  ];
  fill($('plan-summary'), summary.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
  const c = r.constraints || {};
  const notes = [
    ...Object.entries(c.repaired || {}).map(([k, n]) => `repairs ${n} replica${n > 1 ? 's' : ''} breaking ${k}`),
    ...(c.unmet || []).map((u) => 'still unmet: ' + (typeof u === 'string' ? u : JSON.stringify(u))),
    ...(c.notes || []).map((n) => 'note: ' + n),
  ];
  fill($('plan-constraints'), notes.length ? h('ul', null, notes.map((n) => h('li', null, n))) : null);

  fill($('plan-brokers'), legend(), l.brokers.map((b) => ({ label: 'broker ' + b.id, before: b.bytes, after: a.brokers.get(b.id).bytes })).map(barRow(bytes)));
  fill($('plan-leaders'), legend(), l.brokers.map((b) => ({ label: 'broker ' + b.id, before: b.preferredLeaders, after: a.brokers.get(b.id).leaders })).map(barRow(String)));
  const dirRows = [];
  for (const b of l.brokers) {
    for (const d of b.dirs) dirRows.push({ label: `${b.id}: ${shortDir(d.directory)}`, title: d.directory, before: d.bytes, after: a.dirs.get(b.id + '\u0000' + d.directory) });
  }
  fill($('plan-dirs'), legend(), dirRows.map(barRow(bytes)));

  const place = (rs) => rs.map((x) => x.brokerId + (x.directory ? ` (${shortDir(x.directory)})` : '')).join(', ');
  const rows = r.changes.slice(0, MAX_CHANGE_ROWS).map((ch) => [`${ch.topic}-${ch.partition}`, place(ch.before), place(ch.after),
    bytes(sizeOf(ch))]);
  fill($('plan-changes'), r.changes.length === 0 ? h('p', null, 'Nothing to change: the layout is already the best found.') :
    table(r.changes.length > MAX_CHANGE_ROWS ? `first ${MAX_CHANGE_ROWS} of ${r.changes.length} changes` : null,
      ['Partition', 'Replicas before (leader first)', 'Replicas after', 'Size'], rows));
  $('execute').disabled = r.changes.length === 0;
  $('plan').hidden = false;
}

function legend() {
  return h('p', { class: 'legend' }, h('span', { class: 'sw before' }), 'before', h('span', { class: 'sw after' }), 'after');
}

// barRow draws one before/after pair, both scaled to the largest value of its chart.
function barRow(fmt) {
  return (row, _, rows) => {
    const max = Math.max(1, ...rows.map((x) => Math.max(x.before, x.after)));
    const pct = (v) => Math.max(0, 100 * v / max) + '%';
    return h('div', { class: 'bar', role: 'group', 'aria-label': `${row.label}: ${fmt(row.before)} before, ${fmt(row.after)} after`, 'data-before': row.before, 'data-after': row.after },
      h('span', { class: 'label', title: row.title || null }, row.label),
      h('div', { class: 'tracks', 'aria-hidden': 'true' },
        h('div', { class: 'track before' }, h('span', { style: { width: pct(row.before) } })),
        h('div', { class: 'track after' }, h('span', { style: { width: pct(row.after) } }))),
      h('span', { class: 'val' }, `${fmt(row.before)} → ${fmt(row.after)}`));
  };
}

// ask shows the confirmation dialog; it resolves to the throttle typed, or null if the
// operator backed out (the first button, or Escape). The dialog opens on its first control
// (the throttle, or the button that changes nothing), keeps Tab inside it, and gives the
// focus back to what had it when it closes.
//
// The answer is taken from the submit and cancel events, which come at once, not from
// the close event, which comes a task later: Escape then Enter typed quickly would open the
// next confirmation before the first one's close event, and that late event would answer
// the new one.
let settle = null; // answers the confirmation on screen

function ask(title, text, withThrottle, back) {
  const dlg = $('confirm');
  const opener = document.activeElement;
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('throttle').parentElement.hidden = !withThrottle;
  $('throttle').value = ''; // a throttle is chosen for each plan, never carried over
  $('confirm-back').textContent = back;
  $('confirm-ok').textContent = withThrottle ? 'Execute' : 'Cancel the plan';
  return new Promise((resolve) => {
    settle = (ok) => {
      const throttle = $('throttle').value.trim();
      dlg.close();
      if (opener && opener !== document.body && opener.isConnected && !opener.disabled && !opener.hidden) opener.focus();
      resolve(ok ? throttle : null);
    };
    dlg.showModal();
  });
}

function answer(ok) {
  const s = settle;
  settle = null;
  if (s) s(ok);
}

// trapTab keeps Tab and Shift+Tab inside the open dialog: from its last control to its
// first and back. (A modal dialog makes the page inert, but Tab past its last control
// still leaves the page for the browser's own controls.)
function trapTab(e) {
  if (e.key !== 'Tab') return;
  const dlg = e.currentTarget;
  const controls = [...dlg.querySelectorAll('input, button, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')]
    .filter((c) => !c.disabled && c.getClientRects().length > 0);
  if (controls.length === 0) return;
  const first = controls[0];
  const last = controls[controls.length - 1];
  if (e.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (document.activeElement === last || !dlg.contains(document.activeElement))) {
    e.preventDefault();
    first.focus();
  }
}

async function execute() {
  if (!plan) return;
  const r = plan.report;
  const throttle = await ask('Execute the plan?',
    `${r.changes.length} partitions change, ${bytes(r.movedBytes)} are copied between brokers. Kafka starts moving replicas at once.`, true, 'Cancel');
  if (throttle === null) return;
  const body = { changes: r.changes };
  if (throttle) body.throttle = /^\d+$/.test(throttle) ? Number(throttle) : throttle;
  $('execute').disabled = true;
  try {
    const { token } = await api('/balancer', { method: 'POST', body, timeoutMs: 60000 });
    onError('execute', null);
    focusRun = true;
    opened = null;
    watch(token);
  } catch (e) {
    onError('execute', e);
    $('execute').disabled = false;
  }
}

function watch(token) {
  running = token;
  lastAnnounced = '';
  clearTimeout(runTimer);
  poll();
}

async function poll() {
  if (!running) return;
  const token = running;
  try {
    const st = await api('/balancer/' + token);
    if (token !== running) return;
    renderRunning(st);
    onError('running', null);
    if (st.done) {
      running = null;
      loadPlans();
      if (token !== opened) loadLayout(); // the plan just ended here: the layout changed
      return;
    }
  } catch (e) {
    onError('running', e);
  }
  runTimer = setTimeout(poll, RUN_POLL_MS);
}

// renderRunning redraws the running plan's status. Its Cancel button stays the same
// element (a redraw every second must not take the focus from it); when the plan ends and
// the button goes, a focus on it moves to the status.
function renderRunning(st) {
  const eta = st.etaSeconds !== undefined ? duration(st.etaSeconds) : (st.done ? '–' : 'unknown');
  const status = $('run-status');
  const cancelBtn = $('run-cancel');
  fill(status, h('div', { class: 'run', 'data-token': st.token, 'data-phase': st.phase },
    h('p', null, 'Plan ', h('code', null, st.token), ': phase ',
      h('strong', { id: 'run-phase', class: 'phase-' + st.phase }, st.phase), st.done ? ' (done)' : ''),
    h('p', null, 'Partitions ', progress(st.partitionsDone, st.partitionsTotal, `${st.partitionsDone} of ${st.partitionsTotal}`)),
    h('p', null, 'Bytes ', progress(st.bytesMoved, st.bytesTotal, `${bytes(st.bytesMoved)} of ${bytes(st.bytesTotal)}`)),
    h('p', null, `ETA ${eta}` + (st.throttle ? ` · throttle ${bytes(st.throttle)}/s` : '') + ` · started ${when(st.startTime)}` +
      (st.finishTime ? ` · finished ${when(st.finishTime)}` : '') + (st.restarts ? ` · ${st.restarts} restarts` : '')),
    st.error ? h('p', { class: 'phase-failed' }, st.error) : null));
  if (st.done && document.activeElement === cancelBtn) status.focus();
  cancelBtn.hidden = st.done;
  cancelBtn.dataset.token = st.token;
  if (focusRun) {
    focusRun = false;
    status.focus();
  }
  announce(st);
}

// announce reads the phase out (a live region that stays in place) when it changes, not
// at every poll.
function announce(st) {
  if (st.phase === lastAnnounced) return;
  lastAnnounced = st.phase;
  $('run-announce').textContent = `Plan ${st.phase}` + (st.done ? '' : `, ${st.partitionsDone} of ${st.partitionsTotal} partitions`);
}

async function cancel(token) {
  if (await ask('Cancel the plan?', 'Moves in flight are cancelled and their partitions put back; partitions already moved keep the plan\'s layout.', false, 'Keep it running') === null) return;
  try {
    const st = await api('/balancer/' + token, { method: 'DELETE', timeoutMs: 45000 });
    renderRunning(st);
    onError('cancel', null);
    loadPlans();
  } catch (e) {
    onError('cancel', e);
  }
}

// openPlan shows a plan of the list in the plan panel above it, and moves the focus there.
function openPlan(token) {
  opened = token;
  focusRun = true;
  watch(token);
}

async function loadPlans() {
  clearTimeout(plansTimer);
  try {
    const { plans } = await api('/balancer/plans');
    onError('plans', null);
    const live = plans.find((p) => !p.done);
    if (live && !running && (!opened || opened === live.token)) watch(live.token);
    // The list is redrawn every few seconds: a focus on a plan's button moves to its new one.
    const list = $('plans');
    const focusedToken = list.contains(document.activeElement) ? document.activeElement.dataset.token : undefined;
    fill(list, plans.length === 0 ? h('p', { class: 'muted' }, 'No plan has been executed.') :
      table(null, ['Plan', 'Phase', 'Started', 'Finished', 'Partitions', 'Bytes', 'Error'],
        plans.slice().reverse().map((p) => [
          h('button', { type: 'button', class: 'token', 'data-token': p.token, title: p.token, 'aria-label': `Show plan ${p.token}`, onclick: () => openPlan(p.token) },
            h('code', null, p.token.slice(0, 8))),
          h('span', { class: 'phase-' + p.phase }, p.phase), when(p.startTime), when(p.finishTime),
          `${p.partitionsDone}/${p.partitionsTotal}`, `${bytes(p.bytesMoved)} / ${bytes(p.bytesTotal)}`, p.error || ''])));
    if (focusedToken) list.querySelector(`button[data-token="${CSS.escape(focusedToken)}"]`)?.focus();
  } catch (e) {
    onError('plans', e);
  }
  if (visible()) plansTimer = setTimeout(loadPlans, PLANS_POLL_MS);
}
