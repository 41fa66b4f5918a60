// The dashboard's entry point: navigation between the two views, the token field and the
// error notice. Each view lives in its own module.

import { token, setToken } from './api.js';
import { $, h, fill } from './dom.js';
import { startFleet, refresh as refreshFleet } from './fleet.js';
import { startKafka, showKafka } from './kafka.js';

const errors = new Map(); // source -> message, shown until that source succeeds again

function reportError(source, err) {
  if (err) errors.set(source, err.message || String(err));
  else errors.delete(source);
  fill($('notice'), [...errors.values()].map((m) => h('div', null, m)));
}

function show() {
  const view = location.hash === '#kafka' ? 'kafka' : 'fleet';
  for (const v of ['fleet', 'kafka']) {
    $(v).hidden = v !== view;
    const link = $('nav-' + v);
    if (v === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === 'kafka') showKafka();
  else refreshFleet();
}

function tokenState() {
  $('token-state').textContent = token() ? 'token set for this tab' : 'no token';
}

function start() {
  $('token').value = token();
  tokenState();
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('token').value.trim());
    tokenState();
    errors.clear();
    show();
  });
  $('token-clear').addEventListener('click', () => {
    setToken('');
    $('token').value = '';
    tokenState();
  });
  startKafka(reportError);
  startFleet(reportError);
  window.addEventListener('hashchange', show);
  show();
}

start();
