// The Redis fleet view: hosts, proxies, nodes and clusters of the undermoon broker, read
// from /api/v3 (the whole state in one GET /metadata, then the cluster views and infos of
// the clusters shown).

import { api, pool } from './api.js';
import { $, h, fill, table, when } from './dom.js';

const SLOTS = 16384;
// Cluster cards shown at once; the filter narrows them. Each one costs two GETs a refresh.
const MAX_CLUSTERS = 50;
const REFRESH_MS = 3000;

// The largest number of slots seen migrating per cluster since the page opened: the
// broker knows what is left to move, not what was there when the migration began.
const migratingSeen = new Map();

let timer = null;
let busy = false;
let again = false; // asked for while a load ran (the filter changed): load once more after it
let onError = () => {};

export function startFleet(reportError) {
  onError = reportError;
  $('cluster-filter').addEventListener('input', () => refresh());
  $('fleet-live').addEventListener('change', schedule);
  document.addEventListener('visibilitychange', schedule);
  refresh();
}

// active tells whether the view is on screen, so that a hidden tab polls nothing.
function active() {
  return !$('fleet').hidden && document.visibilityState === 'visible';
}

export function schedule() {
  clearTimeout(timer);
  if ($('fleet-live').checked && active()) timer = setTimeout(refresh, REFRESH_MS);
}

export async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    await load();
    onError('fleet', null);
  } catch (e) {
    onError('fleet', e);
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    } else {
      schedule();
    }
  }
}

async function load() {
  const [meta, failing] = await Promise.all([api('/api/v3/metadata'), api('/api/v3/failures')]);
  const names = Object.keys(meta.clusters || {}).sort();
  const filter = $('cluster-filter').value.trim().toLowerCase();
  const shown = names.filter((n) => n.toLowerCase().includes(filter)).slice(0, MAX_CLUSTERS);
  const details = await pool(shown, 6, async (name) => {
    const [view, info] = await Promise.all([
      api('/api/v3/clusters/meta/' + encodeURIComponent(name)),
      api('/api/v3/clusters/info/' + encodeURIComponent(name)).catch((e) => {
        if (e.status === 404) return null; // deleted between the two reads
        throw e;
      }),
    ]);
    return { name, view: view.cluster, info, store: meta.clusters[name] };
  });
  render(meta, new Set(failing.addresses || []), details, names.length);
}

function render(meta, failing, details, clusterCount) {
  const proxies = Object.values(meta.all_proxies || {});
  const failed = new Set((meta.failed_proxies || []).map((p) => (typeof p === 'string' ? p : p.proxy_address)));
  const reports = meta.failures || {};
  const roles = new Map(); // node address -> master | replica, from the clusters shown
  for (const d of details) {
    for (const n of (d.view && d.view.nodes) || []) roles.set(n.address, n.repl && n.repl.role);
  }
  const free = proxies.filter((p) => !p.cluster && !failed.has(p.proxy_address));
  const hosts = new Map();
  for (const p of proxies) {
    if (!hosts.has(p.host)) hosts.set(p.host, []);
    hosts.get(p.host).push(p);
  }
  const reportCount = Object.values(reports).reduce((n, r) => n + Object.keys(r).length, 0);

  fill($('fleet-summary'),
    stat('Global epoch', meta.global_epoch, 'global-epoch'),
    stat('Clusters', clusterCount),
    stat('Hosts', hosts.size),
    stat('Proxies', proxies.length),
    stat('Free proxies', free.length),
    stat('Failed proxies', failed.size),
    stat('Failure reports', reportCount));
  $('fleet-updated').textContent = 'updated ' + new Date().toLocaleTimeString();

  const hostNames = [...hosts.keys()].sort(compareHosts);
  fill($('hosts'), hostNames.length === 0 ? h('p', { class: 'muted' }, 'No proxy is registered.') :
    hostNames.map((host) => h('section', { class: 'host', 'aria-label': 'host ' + host },
      h('h4', null, host),
      hosts.get(host).sort((a, b) => a.proxy_address.localeCompare(b.proxy_address))
        .map((p) => proxyCard(p, failed, failing, reports, roles)))));

  const reportRows = [];
  for (const addr of Object.keys(reports).sort()) {
    for (const [reporter, at] of Object.entries(reports[addr])) {
      reportRows.push([addr, reporter, when(at * 1000), failing.has(addr) ? 'yes' : 'not yet']);
    }
  }
  fill($('failures'), reportRows.length === 0 ? h('p', { class: 'muted' }, 'No failure report.') :
    table(null, ['Proxy', 'Reporter', 'Reported', 'Listed as failing'], reportRows));
  fill($('failed'), failed.size === 0 ? h('p', { class: 'muted' }, 'No failed proxy.') :
    h('ul', null, [...failed].sort().map((a) => h('li', null, a))));

  fill($('clusters'), details.length === 0 ? h('p', { class: 'muted' }, clusterCount ? 'No cluster matches the filter.' : 'No cluster.') : [
    clusterCount > details.length ? h('p', { class: 'muted small' }, `Showing ${details.length} of ${clusterCount} clusters; filter by name to see others.`) : null,
    details.map(clusterCard),
  ]);
}

function stat(label, value, id) {
  return h('div', null, h('dt', null, label), h('dd', { id: id || null }, value ?? '–'));
}

// compareHosts sorts 10.0.0.9 before 10.0.0.10.
function compareHosts(a, b) {
  return a.localeCompare(b, 'en', { numeric: true });
}

function proxyCard(p, failed, failing, reports, roles) {
  const addr = p.proxy_address;
  let cls = 'free';
  let badge = h('span', { class: 'badge ok' }, 'free');
  if (failed.has(addr)) {
    cls = 'failed';
    badge = h('span', { class: 'badge bad' }, 'failed');
  } else if (p.cluster) {
    cls = 'in-cluster';
    badge = h('span', { class: 'badge info' }, p.cluster);
  }
  const n = Object.keys(reports[addr] || {}).length;
  return h('div', { class: 'proxy ' + cls, 'data-proxy': addr },
    h('div', { class: 'addr' }, addr), badge, ' ',
    n ? h('span', { class: 'badge ' + (failing.has(addr) ? 'bad' : 'warn'), title: 'failure reports' }, `${n} report${n > 1 ? 's' : ''}`) : null,
    h('ul', null, (p.node_addresses || []).map((node) => {
      const role = roles.get(node);
      return h('li', null,
        // The letter is for the eye; a screen reader reads the word (aria-label is not
        // allowed on a span, and readers may ignore it there).
        role ? h('span', { class: 'role ' + role, title: role },
          h('span', { 'aria-hidden': 'true' }, role === 'master' ? 'M' : 'R'), h('span', { class: 'sr-only' }, role))
          : h('span', { class: 'role', 'aria-hidden': 'true' }, '·'),
        ' ', node);
    })));
}

// clusterCard: epoch, scale state, one 0–16383 bar per master, the migrations in flight.
function clusterCard(d) {
  const nodes = (d.view && d.view.nodes) || [];
  const masters = nodes.filter((n) => n.repl && n.repl.role === 'master');
  const tasks = [];
  for (const n of masters) {
    for (const s of n.slots || []) {
      const [kind, m] = tagOf(s.tag);
      if (kind === 'Migrating') tasks.push({ ranges: s.range_list, m });
    }
  }
  const left = slotsLeft(d.store);
  const seen = Math.max(left, migratingSeen.get(d.name) || 0);
  if (left === 0) migratingSeen.delete(d.name);
  else migratingSeen.set(d.name, seen);

  return h('article', { class: 'cluster', 'data-cluster': d.name, 'aria-label': 'cluster ' + d.name },
    h('h4', null, d.name, ' ', h('span', { class: 'muted' }, `epoch ${d.view ? d.view.epoch : '–'}`), ' ', scaleBadge(d.info)),
    d.info ? h('p', { class: 'small muted' }, `${d.info.node_number} nodes, ${d.info.node_number_with_slots} with slots, ${masters.length} masters`) : null,
    h('div', { class: 'axis', 'aria-hidden': 'true' }, h('span', null, '0'), h('span', null, '8191'), h('span', null, '16383')),
    masters.map((n) => h('div', { class: 'slotrow' },
      h('span', { title: n.proxy_address }, n.address),
      slotBar(n))),
    left > 0 ? h('div', { class: 'migrations' },
      h('p', null, 'Migration: ', h('span', null, `${seen - left} of ${seen} slots moved since this page opened; `),
        h('progress', { max: seen, value: seen - left, 'aria-label': `migration of ${d.name}` })),
      tasks.length ? table(`Tasks in flight (${tasks.length})`, ['Slots', 'From', 'To', 'Epoch'],
        tasks.map((t) => [rangesText(t.ranges), t.m.src_node_address + ' @ ' + t.m.src_proxy_address,
          t.m.dst_node_address + ' @ ' + t.m.dst_proxy_address, t.m.epoch])) : null) : null);
}

function scaleBadge(info) {
  if (!info) return null;
  if (info.is_migrating) return h('span', { class: 'badge warn' }, 'migrating');
  if (info.node_number_with_slots < info.node_number) return h('span', { class: 'badge warn' }, 'nodes without slots');
  return h('span', { class: 'badge ok' }, 'stable');
}

// slotsLeft sums the slots of the migration tasks still in the stored cluster (every task,
// also those not shown yet because of --migration-limit); each task is stored on both sides,
// so only the migrating side counts.
function slotsLeft(store) {
  let n = 0;
  for (const c of (store && store.chunks) || []) {
    for (const part of c.migrating_slots || []) {
      for (const s of part || []) {
        if (s.is_migrating) n += count(s.range_list);
      }
    }
  }
  return n;
}

function tagOf(tag) {
  if (!tag || typeof tag === 'string') return ['None', null];
  const kind = Object.keys(tag)[0];
  return [kind, tag[kind]];
}

function count(ranges) {
  return (ranges || []).reduce((n, [a, b]) => n + b - a + 1, 0);
}

function rangesText(ranges) {
  return (ranges || []).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
}

function slotBar(n) {
  const segs = [];
  const desc = [];
  for (const s of n.slots || []) {
    const [kind] = tagOf(s.tag);
    for (const [a, b] of s.range_list || []) {
      segs.push(h('span', {
        class: kind === 'Migrating' ? 'migrating' : kind === 'Importing' ? 'importing' : null,
        title: `${a}–${b}${kind !== 'None' ? ' (' + kind.toLowerCase() + ')' : ''}`,
        style: { left: (100 * a / SLOTS) + '%', width: Math.max(0.2, 100 * (b - a + 1) / SLOTS) + '%' },
      }));
      desc.push(`${a}–${b}${kind !== 'None' ? ' ' + kind.toLowerCase() : ''}`);
    }
  }
  return h('div', { class: 'slotbar', role: 'img', 'aria-label': `slots of ${n.address}: ${desc.join(', ') || 'none'}` }, segs);
}
