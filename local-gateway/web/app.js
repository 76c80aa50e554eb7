/*
 * Banter demo page: plain JavaScript, no build step, no dependencies.
 *
 * REST (docs/openapi.yaml) for accounts, listings and history; one WebSocket
 * (docs/websocket-protocol.md) for everything live. Sections:
 *   1. configuration and small helpers     5. app shell: auth panel, tabs, connection status
 *   2. session and the REST client          6. Events tab: events, comment stream, moderation
 *   3. the WebSocket client                 7. Chat tab: conversations, typing, receipts
 *   4. rooms: positions and catch-up        8. start-up
 */
(function () {
  'use strict';

  // ===================================================================================
  // 1. Configuration and small helpers
  // ===================================================================================

  const query = new URLSearchParams(location.search);

  function metaContent(name) {
    const el = document.querySelector('meta[name="' + name + '"]');
    return el && el.content.trim() ? el.content.trim() : '';
  }

  /** REST base: `?api=`, else `<meta name="banter-api">`, else this page's origin. */
  const API_BASE = (query.get('api') || metaContent('banter-api') || '').replace(/\/+$/, '');

  /** WebSocket URL: `?ws=`, else `<meta name="banter-ws">`, else this host on port 3001. */
  const WS_URL = (function () {
    const given = query.get('ws') || metaContent('banter-ws');
    if (given) return given;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return scheme + '//' + (location.hostname || '127.0.0.1') + ':3001';
  })();

  const PING_EVERY_MS = 30000;
  /** How long a stream_batch past a gap waits for the frames before it, then the room catches up. */
  const HOLD_MS = 1500;
  const TYPING_STALE_MS = 10000;
  const TYPING_IDLE_MS = 3000;
  const TYPING_REPEAT_MS = 5000;
  const CONVERSATION_POLL_MS = 5000;
  const EVENTS_POLL_MS = 15000;
  const REQUEST_TIMEOUT_MS = 8000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const byTestId = (id, root) => $('[data-testid="' + id + '"]', root);

  /** Creates an element: h('div', {class: 'x', dataset: {a: 1}, onclick}, child, 'text'). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'testid') el.dataset.testid = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    // Not a secure context (plain http on a LAN address): build a v4 UUID by hand.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20);
  }

  function hue(text) {
    let n = 0;
    for (const ch of String(text || '')) n = (n * 31 + ch.codePointAt(0)) % 360;
    return n;
  }

  function initials(name) {
    const parts = String(name || '?').trim().split(/[\s._-]+/).filter(Boolean);
    const s = parts.length > 1 ? parts[0][0] + parts[1][0] : (parts[0] || '?').slice(0, 2);
    return s.toUpperCase();
  }

  function avatar(user, cls) {
    const name = (user && (user.display_name || user.username)) || '?';
    const el = h('span', { class: 'avatar' + (cls ? ' ' + cls : ''), 'aria-hidden': 'true' }, initials(name));
    el.style.setProperty('--h', hue(user && (user.user_id || user.username)));
    return el;
  }

  function paintAvatar(el, user) {
    el.textContent = initials((user && (user.display_name || user.username)) || '?');
    el.style.setProperty('--h', hue(user && (user.user_id || user.username)));
  }

  function relTime(iso) {
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) return '';
    const s = Math.round((Date.now() - t) / 1000);
    if (s < 10) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  }

  function clockTime(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : '';
  }

  function timeEl(iso, testid, clock) {
    return h('time', {
      datetime: iso, title: iso ? new Date(iso).toLocaleString() : '', testid,
      dataset: { rel: clock ? '' : '1' },
    }, clock ? clockTime(iso) : relTime(iso));
  }

  function refreshRelativeTimes() {
    for (const el of $$('time[data-rel="1"]')) el.textContent = relTime(el.getAttribute('datetime'));
  }

  /** Small line icons (inline SVG, so they look the same without emoji fonts). */
  const ICONS = {
    sports: '<circle cx="12" cy="12" r="9"/><path d="M12 7.5l3.8 2.8-1.5 4.4H9.7l-1.5-4.4zM12 7.5V3M15.8 10.3l4.4-1.4M14.3 14.7l2.7 3.7M9.7 14.7L7 18.4M8.2 10.3L3.8 8.9"/>',
    news: '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 8h10M7 12h10M7 16h6"/>',
    entertainment: '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M10 9l5 3-5 3z"/>',
    gaming: '<path d="M6 8h12a4 4 0 0 1 4 4v1a3 3 0 0 1-5.2 2L15 13H9l-1.8 2A3 3 0 0 1 2 13v-1a4 4 0 0 1 4-4z"/><path d="M7 10.5v3M5.5 12h3M16 11h.01M18 13h.01"/>',
    event: '<path d="M4 5h16v11H9l-5 4z"/>',
    trash: '<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/>',
    block: '<circle cx="12" cy="12" r="9"/><path d="M5.6 5.6l12.8 12.8"/>',
    flag: '<path d="M5 21V4M5 4h11l-2 4 2 4H5"/>',
    check: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
    reply: '<path d="M10 8L5 12.5l5 4.5M5 12.5h9a5 5 0 0 1 5 5V19"/>',
  };

  function icon(name) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    el.setAttribute('viewBox', '0 0 24 24');
    el.setAttribute('class', 'ico');
    el.setAttribute('aria-hidden', 'true');
    el.innerHTML = ICONS[name] || ICONS.event; // constant markup, never user data
    return el;
  }

  function snippet(text, n) {
    const s = String(text || '').replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  function toast(message, kind) {
    const el = h('div', { class: 'toast' + (kind ? ' ' + kind : ''), testid: 'toast', role: 'status' }, message);
    byTestId('toasts').append(el);
    setTimeout(() => el.remove(), kind === 'error' ? 6000 : 3500);
  }

  function describeError(err) {
    if (!err) return 'Something went wrong';
    const msg = err.message || String(err);
    if (err.details && err.details.length) {
      return msg + ': ' + err.details.map((d) => d.field + ' ' + d.message).join('; ');
    }
    return msg;
  }

  function showFormError(el, err) {
    if (!err) { el.hidden = true; el.textContent = ''; return; }
    el.textContent = typeof err === 'string' ? err : describeError(err);
    el.hidden = false;
  }

  /** Grows a textarea with its content; Enter submits, Shift+Enter makes a new line. */
  function wireComposer(textarea, form) {
    const grow = () => { textarea.style.height = 'auto'; textarea.style.height = Math.min(textarea.scrollHeight + 2, 160) + 'px'; };
    textarea.addEventListener('input', grow);
    textarea.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    return grow;
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  // ===================================================================================
  // 2. Session and the REST client
  // ===================================================================================

  const SESSION_KEY = 'banter.session';
  let session = null; // {user, access_token, refresh_token, expires_at}
  let watching = false; // reading the events without an account
  let refreshing = null; // the in-flight refresh (refresh tokens are single-use)

  class ApiError extends Error {
    constructor(status, code, message, details, requestId) {
      super(message || code);
      this.status = status;
      this.code = code;
      this.details = details || [];
      this.requestId = requestId;
    }
  }

  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (s && s.user && s.access_token && s.refresh_token) return s;
    } catch (_) { /* ignore */ }
    return null;
  }

  function saveSession() {
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(SESSION_KEY);
  }

  function setTokens(pair) {
    session.access_token = pair.access_token;
    session.refresh_token = pair.refresh_token;
    session.expires_at = Date.now() + (Number(pair.expires_in) || 900) * 1000;
    saveSession();
  }

  /** Exchanges the refresh token for a new pair; signs out when the server refuses it. */
  function refreshTokens() {
    if (!session) return Promise.reject(new ApiError(401, 'UNAUTHORIZED', 'Not signed in'));
    if (refreshing) return refreshing;
    const token = session.refresh_token;
    refreshing = (async () => {
      try {
        const pair = await api('POST', '/v1/auth/refresh', { refresh_token: token }, { auth: false });
        if (session && session.refresh_token === token) setTokens(pair);
      } catch (err) {
        if (err.status === 401 || err.status === 403) {
          signOut('Your session has expired. Please log in again.');
        }
        throw err;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  async function freshAccessToken() {
    if (session && session.expires_at && session.expires_at - Date.now() < 30000) {
      try { await refreshTokens(); } catch (err) { if (!session) throw err; }
    }
    return session ? session.access_token : null;
  }

  /**
   * Calls the REST API. Sends the access token (refreshed first when about to expire); on a
   * 401 refreshes once and retries. Errors are ApiError with the server's code and message.
   */
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    Object.assign(headers, opts.headers || {});
    const useAuth = opts.auth !== false && !!session;
    if (useAuth) headers.Authorization = 'Bearer ' + (await freshAccessToken());
    let res;
    try {
      res = await fetch(API_BASE + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      throw new ApiError(0, 'NETWORK', 'Cannot reach the Banter API (' + (API_BASE || location.origin) + ')');
    }
    if (res.status === 401 && useAuth && !opts.retried && session) {
      await refreshTokens();
      return api(method, path, body, Object.assign({}, opts, { retried: true }));
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      const e = (data && data.error) || {};
      let message = e.message || res.statusText || 'HTTP ' + res.status;
      if (res.status === 429) {
        const after = res.headers.get('Retry-After');
        message = 'Slow down a little' + (after ? ' (try again in ' + after + ' s)' : '');
      }
      throw new ApiError(res.status, e.code || 'HTTP_' + res.status, message, e.details, e.request_id);
    }
    return data;
  }

  // ===================================================================================
  // 3. The WebSocket client
  // ===================================================================================

  /**
   * One socket with automatic reconnect (exponential backoff with jitter), a ping every 30 s,
   * request/answer matching by `message_id`, and re-subscription with `since` after every
   * reconnect (see Rooms).
   */
  const socket = {
    ws: null,
    state: 'offline', // offline | connecting | online
    attempt: 0,
    retryTimer: null,
    retryAt: 0,
    pingTimer: null,
    wanted: false, // reconnect automatically while true
    everOpened: false, // whether the current attempt got past the handshake
    pending: new Map(), // message_id -> {frame, resolve, reject, timer, tries}
    handlers: new Map(), // server message type -> [fn]

    on(type, fn) {
      if (!this.handlers.has(type)) this.handlers.set(type, []);
      this.handlers.get(type).push(fn);
    },

    async connect() {
      this.wanted = true;
      clearTimeout(this.retryTimer);
      if (this.ws && this.ws.readyState <= 1) return;
      this.setState('connecting');
      // A handshake that failed before opening may have been a 401 (browsers do not show
      // the status): refresh the token before trying again.
      if (this.attempt > 0 && !this.everOpened && session) {
        try { await refreshTokens(); } catch (_) { /* server down: try with what we have */ }
      }
      if (!this.wanted || (!session && !watching)) return;
      let url = WS_URL;
      if (session) {
        let token;
        try { token = await freshAccessToken(); } catch (_) { token = null; }
        if (!this.wanted || !session || !token) return;
        const sep = WS_URL.includes('?') ? '&' : '?';
        url = WS_URL + sep + 'token=' + encodeURIComponent(token);
      } else if (!this.wanted || !watching) return;
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (err) {
        this.scheduleReconnect();
        return;
      }
      this.ws = ws;
      this.everOpened = false;
      ws.onopen = () => {
        if (this.ws !== ws) return;
        this.everOpened = true;
        this.attempt = 0;
        this.setState('online');
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.request('ping', {}).catch(() => {}), PING_EVERY_MS);
        rooms.resubscribeAll();
      };
      ws.onmessage = (e) => {
        if (this.ws !== ws) return;
        this.receive(e.data);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearInterval(this.pingTimer);
        this.failPending();
        if (this.wanted) this.scheduleReconnect();
        else this.setState('offline');
      };
      ws.onerror = () => { /* onclose follows */ };
    },

    scheduleReconnect() {
      const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      const delay = Math.round(base * (0.75 + Math.random() * 0.5));
      this.attempt += 1;
      this.retryAt = Date.now() + delay;
      this.setState('offline');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    },

    /** Closes the socket. With `reconnect: false` it stays closed until connect(). */
    disconnect(opts) {
      const reconnect = !!(opts && opts.reconnect);
      this.wanted = reconnect;
      clearTimeout(this.retryTimer);
      clearInterval(this.pingTimer);
      const ws = this.ws;
      if (ws) ws.close(1000, 'client closed');
      if (!reconnect) {
        this.ws = null;
        this.setState('offline');
        this.failPending();
      }
    },

    /**
     * Answers every waiting request with OFFLINE when the socket goes away. Callers that
     * post (comments, messages) then retry over REST with the same idempotency key, so
     * nothing is stored twice even if the lost frame did reach the server.
     */
    failPending() {
      const waiting = Array.from(this.pending.values());
      this.pending.clear();
      for (const p of waiting) { clearTimeout(p.timer); p.reject(socketError('OFFLINE', 'Not connected')); }
    },

    setState(s) {
      this.state = s;
      renderConnection();
      events.renderNote();
    },

    isOpen() {
      return !!this.ws && this.ws.readyState === 1;
    },

    /**
     * Sends a client frame and resolves with the `ack` (or `pong`) payload; rejects with the
     * `error` payload (err.code). Unanswered frames are re-sent with the same message_id.
     */
    request(type, payload, opts) {
      opts = opts || {};
      return new Promise((resolve, reject) => {
        if (!this.isOpen()) {
          reject(socketError('OFFLINE', 'Not connected'));
          return;
        }
        const frame = { type, message_id: opts.messageId || uuid(), timestamp: new Date().toISOString(), payload };
        const p = { frame, resolve, reject, timer: null, tries: 0, maxTries: opts.tries || 3 };
        this.pending.set(frame.message_id, p);
        if (this.isOpen()) this.transmit(p);
      });
    },

    transmit(p) {
      if (!this.isOpen()) {
        this.pending.delete(p.frame.message_id);
        p.reject(socketError('OFFLINE', 'Not connected'));
        return;
      }
      p.tries += 1;
      clearTimeout(p.timer);
      p.timer = setTimeout(() => {
        if (!this.pending.has(p.frame.message_id)) return;
        if (p.tries < p.maxTries) this.transmit(p);
        else {
          this.pending.delete(p.frame.message_id);
          p.reject(socketError('TIMEOUT', 'No answer from the server'));
        }
      }, REQUEST_TIMEOUT_MS);
      this.ws.send(JSON.stringify(p.frame));
    },

    /** Sends a frame whose answer nobody waits for (typing, receipts, presence). */
    fire(type, payload) {
      if (!this.isOpen()) return;
      this.request(type, payload, { tries: 1 }).catch(() => {});
    },

    receive(data) {
      let frame;
      try { frame = JSON.parse(data); } catch (_) { return; }
      if (!frame || typeof frame.type !== 'string') return;
      if (frame.type === 'ack' || frame.type === 'error' || frame.type === 'pong') {
        const p = this.pending.get(frame.message_id);
        if (!p) return;
        const payload = frame.payload || {};
        if (frame.type === 'error' && payload.code === 'INTERNAL' && p.tries < p.maxTries) {
          setTimeout(() => this.transmit(p), 500 * p.tries);
          return;
        }
        clearTimeout(p.timer);
        this.pending.delete(frame.message_id);
        if (frame.type === 'error') p.reject(socketError(payload.code, payload.message, payload));
        else p.resolve(payload);
        return;
      }
      if (frame.type === 'stream_batch') {
        rooms.onBatch(frame.payload || {});
        return;
      }
      this.dispatch(frame.type, frame.payload || {}, frame);
    },

    /** Hands one frame (or one entry of a stream_batch) to its handlers. */
    dispatch(type, payload, frame) {
      for (const fn of this.handlers.get(type) || []) {
        try { fn(payload, frame); } catch (err) { console.error('banter: handler for', type, err); }
      }
    },
  };

  function socketError(code, message, payload) {
    const err = new Error(message || code);
    err.code = code;
    err.details = (payload && payload.details) || [];
    err.retryAfter = payload && payload.retry_after;
    return err;
  }

  // ===================================================================================
  // 4. Rooms: positions and catch-up
  // ===================================================================================

  /**
   * The rooms this page follows, each with its watermark `lastPos`: the highest stream
   * position held with no gap before it. A `stream_batch` covering `(after, last_position]`
   * is applied when `after <= lastPos` (its entries above the watermark are handed to the
   * views, then the watermark moves to `last_position`); one past a gap is held until the
   * frames before it arrive, or for at most HOLD_MS, then the room catches up. After a
   * reconnect every room is subscribed again with `since: lastPos`, so whatever was missed
   * arrives first; duplicates are dropped by position (and by id in the views). A room whose
   * ack says `reset` is reloaded.
   */
  const rooms = {
    map: new Map(), // 'event:<id>' | 'conversation:<id>' -> {kind, id, lastPos, above:Set}

    key(kind, id) { return kind + ':' + id; },

    get(kind, id) { return this.map.get(this.key(kind, id)); },

    follow(kind, id, lastPos) {
      const k = this.key(kind, id);
      let room = this.map.get(k);
      if (!room) {
        room = { kind, id, lastPos: 0, above: new Set(), held: new Map(), holdTimer: null };
        this.map.set(k, room);
      }
      this.advanceTo(room, lastPos || 0);
      if (socket.isOpen()) this.subscribe(room);
      return room;
    },

    unfollow(kind, id) {
      const room = this.map.get(this.key(kind, id));
      if (!room) return;
      this.map.delete(this.key(kind, id));
      socket.fire('unsubscribe', { [kind + '_id']: id });
    },

    /** Subscribes with catch-up; pages on while the server says `has_more`. */
    async subscribe(room) {
      for (let page = 0; page < 50; page++) {
        if (this.map.get(this.key(room.kind, room.id)) !== room || !socket.isOpen()) return;
        let ack;
        try {
          ack = await socket.request('subscribe', { [room.kind + '_id']: room.id, since: room.lastPos });
        } catch (err) {
          if (err.code === 'NOT_FOUND') {
            this.map.delete(this.key(room.kind, room.id));
            if (room.kind === 'conversation') chat.forget(room.id);
          } else if (err.code !== 'OFFLINE') {
            console.warn('banter: subscribe', room.kind, room.id, err.code, err.message);
          }
          return;
        }
        if (ack.reset) {
          // The stream cannot resume from here (expired or rebuilt): reload the room.
          this.advanceTo(room, ack.head || 0);
          if (room.kind === 'event') events.reloadComments({ quiet: true });
          return;
        }
        if (typeof ack.last_position === 'number') this.advanceTo(room, ack.last_position);
        this.applyHeld(room);
        if (!ack.has_more) return;
      }
    },

    resubscribeAll() {
      for (const room of this.map.values()) this.subscribe(room);
    },

    advanceTo(room, pos) {
      if (pos > room.lastPos) room.lastPos = pos;
      for (const p of room.above) if (p <= room.lastPos) room.above.delete(p);
      while (room.above.has(room.lastPos + 1)) { room.above.delete(room.lastPos + 1); room.lastPos += 1; }
    },

    /** Applies a `stream_batch`: in order when it follows the watermark, else held. */
    onBatch(b) {
      const [kind, id] = String(b.room || '').split(':');
      const room = this.get(kind, id);
      if (!room || typeof b.after !== 'number' || typeof b.last_position !== 'number') return;
      if (b.after > room.lastPos) {
        room.held.set(b.after, b);
        if (!room.holdTimer) {
          room.holdTimer = setTimeout(() => { room.holdTimer = null; if (room.held.size) this.subscribe(room); }, HOLD_MS);
        }
        return;
      }
      for (const e of b.entries || []) {
        if (typeof e.position === 'number' && e.position > room.lastPos) socket.dispatch(e.type, e.payload || {}, e);
      }
      this.advanceTo(room, b.last_position);
      this.applyHeld(room);
    },

    /** Applies held batches the watermark has reached. */
    applyHeld(room) {
      for (const [after, b] of Array.from(room.held.entries()).sort((x, y) => x[0] - y[0])) {
        if (b.last_position <= room.lastPos) { room.held.delete(after); continue; }
        if (after <= room.lastPos) { room.held.delete(after); this.onBatch(b); }
      }
      if (!room.held.size && room.holdTimer) { clearTimeout(room.holdTimer); room.holdTimer = null; }
    },

    /** Records an item's position; false when it was seen before (a duplicate). */
    accept(kind, id, pos) {
      const room = this.get(kind, id);
      if (!room || typeof pos !== 'number') return true;
      if (pos <= room.lastPos || room.above.has(pos)) return false;
      room.above.add(pos);
      this.advanceTo(room, room.lastPos);
      return true;
    },
  };

  // ===================================================================================
  // 5. App shell: auth panel, tabs, connection status
  // ===================================================================================

  let authMode = 'register';
  let currentTab = 'events';

  function renderConnection() {
    const el = byTestId('connection-status');
    const label = $('.conn-label', el);
    el.dataset.state = socket.state;
    if (socket.state === 'online') label.textContent = 'Live';
    else if (socket.state === 'connecting') label.textContent = 'Connecting…';
    else if (socket.wanted && socket.retryAt > Date.now()) {
      label.textContent = 'Offline — retrying in ' + Math.max(1, Math.ceil((socket.retryAt - Date.now()) / 1000)) + ' s';
    } else label.textContent = 'Offline';
  }

  function setAuthMode(mode) {
    authMode = mode;
    for (const b of $$('[data-mode]')) b.setAttribute('aria-selected', String(b.dataset.mode === mode));
    $('[data-role="display-name-row"]').hidden = mode !== 'register';
    byTestId('auth-submit').textContent = mode === 'register' ? 'Create account' : 'Log in';
    byTestId('auth-password').setAttribute('autocomplete', mode === 'register' ? 'new-password' : 'current-password');
    showFormError(byTestId('auth-error'), null);
  }

  async function submitAuth(e) {
    e.preventDefault();
    const form = byTestId('auth-form');
    const username = form.username.value.trim();
    const password = form.password.value;
    const displayName = form.display_name.value.trim();
    const errEl = byTestId('auth-error');
    if (!username || !password) { showFormError(errEl, 'Enter a username and a password.'); return; }
    const button = byTestId('auth-submit');
    button.disabled = true;
    showFormError(errEl, null);
    try {
      const body = authMode === 'register'
        ? { username, password, display_name: displayName || undefined }
        : { username, password };
      const signedIn = await api('POST', authMode === 'register' ? '/v1/auth/register' : '/v1/auth/login', body, { auth: false });
      session = { user: signedIn.user };
      setTokens(signedIn);
      form.reset();
      startSignedIn();
    } catch (err) {
      let msg = describeError(err);
      if (err.code === 'CONFLICT') msg = 'That username is taken. Pick another, or log in.';
      else if (err.status === 401 && authMode === 'login') msg = 'Wrong username or password.';
      showFormError(errEl, msg);
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    const old = session;
    session = null;
    saveSession();
    if (old && old.refresh_token && !message) {
      api('POST', '/v1/auth/logout', { refresh_token: old.refresh_token }, { auth: false }).catch(() => {});
    }
    socket.disconnect();
    rooms.map.clear();
    events.reset();
    chat.reset();
    renderShell();
    if (message) toast(message, 'error');
  }

  function renderShell() {
    const signedIn = !!session;
    // Watching without signing in: the events, read-only, over an anonymous socket.
    const inside = signedIn || watching;
    byTestId('auth-panel').hidden = inside;
    byTestId('tabs').hidden = !signedIn;
    byTestId('current-user').hidden = !signedIn;
    byTestId('watch-sign-in').hidden = signedIn || !watching;
    byTestId('events-view').hidden = !inside || currentTab !== 'events';
    byTestId('chat-view').hidden = !signedIn || currentTab !== 'chat';
    byTestId('create-event-form').hidden = !signedIn;
    for (const t of $$('.tab')) t.setAttribute('aria-selected', String(t.dataset.tab === currentTab));
    if (signedIn) {
      $('[data-role="me-name"]').textContent = session.user.display_name || session.user.username;
      $('[data-role="me-name"]').title = '@' + session.user.username;
      paintAvatar($('[data-role="me-avatar"]'), session.user);
    }
    renderConnection();
  }

  function setTab(tab, opts) {
    currentTab = tab;
    renderShell();
    if (tab === 'chat') chat.onShown();
    else events.onShown();
    if (!(opts && opts.keepHash)) {
      const id = tab === 'chat' ? chat.currentId : events.current && events.current.event_id;
      history.replaceState(null, '', location.pathname + location.search + '#/' + tab + (id ? '/' + id : ''));
    }
  }

  /** Opens the events read-only, without an account: an anonymous socket (no token). */
  function startWatching() {
    watching = true;
    currentTab = 'events';
    events.autoOpen = true;
    renderShell();
    socket.attempt = 0;
    socket.connect();
    setTab('events', { keepHash: true });
    const m = /^#\/events\/([0-9a-fA-F-]{36})/.exec(location.hash);
    if (m) events.open(m[1]);
  }

  /** Back to the sign-in form from watching. */
  function stopWatching() {
    watching = false;
    socket.disconnect();
    rooms.map.clear();
    events.reset();
    renderShell();
  }

  function startSignedIn() {
    watching = false;
    events.autoOpen = true;
    renderShell();
    socket.attempt = 0;
    socket.connect();
    chat.start();
    const m = /^#\/(events|chat)(?:\/([0-9a-fA-F-]{36}))?/.exec(location.hash);
    if (m && m[1] === 'chat') {
      setTab('chat', { keepHash: true });
      if (m[2]) chat.open(m[2]);
    } else {
      setTab('events', { keepHash: true });
      if (m && m[2]) events.open(m[2]);
    }
  }

  function isMe(userId) {
    return !!session && session.user.user_id === userId;
  }

  // ===================================================================================
  // 6. Events tab
  // ===================================================================================

  const EVENT_TYPES = { sports: 'Sports', news: 'News', entertainment: 'Entertainment', gaming: 'Gaming' };

  const events = {
    filter: 'live',
    list: [],
    current: null, // the open event
    comments: new Map(), // comment_id -> comment
    elements: new Map(), // comment_id -> <li>
    liked: new Set(), // comment ids this user liked (this session)
    replyTo: null, // comment replied to
    unseen: 0, // new comments below the fold
    openSeq: 0,
    autoOpen: false, // open the first live event when the list first arrives

    reset() {
      if (this.current) rooms.unfollow('event', this.current.event_id);
      this.current = null;
      this.list = [];
      this.comments.clear();
      this.elements.clear();
      this.liked.clear();
      this.replyTo = null;
      byTestId('event-list').replaceChildren();
      byTestId('comment-list').replaceChildren();
      byTestId('event-detail').hidden = true;
      byTestId('event-placeholder').hidden = false;
    },

    onShown() {
      this.loadList();
    },

    async loadList() {
      if (!session && !watching) return;
      const status = this.filter;
      try {
        const page = await api('GET', '/v1/events?status=' + status + '&limit=50');
        if (status !== this.filter) return;
        this.list = page.events || [];
        if (this.current) {
          const fresh = this.list.find((e) => e.event_id === this.current.event_id);
          if (fresh) this.current = Object.assign({}, this.current, fresh);
        }
        this.renderList();
        if (this.autoOpen) {
          this.autoOpen = false;
          if (!this.current && status === 'live' && this.list.length) this.open(this.list[0].event_id, this.list[0]);
        }
      } catch (err) {
        if (session || watching) toast('Could not load events: ' + describeError(err), 'error');
      }
    },

    renderList() {
      const ul = byTestId('event-list');
      ul.replaceChildren(...this.list.map((ev) => {
        const li = h('li', {
          testid: 'event-item', dataset: { eventId: ev.event_id, status: ev.status },
          'aria-current': this.current && this.current.event_id === ev.event_id ? 'true' : 'false',
          onclick: () => this.open(ev.event_id),
          title: ev.description || ev.title,
        },
        h('span', { class: 'ev-icon', dataset: { type: ev.event_type || '' } }, icon(ev.event_type)),
        h('div', { class: 'li-main' },
          h('div', { class: 'li-title', testid: 'event-item-title' }, ev.title),
          h('div', { class: 'li-sub' },
            (ev.comment_count || 0) + ' comment' + (ev.comment_count === 1 ? '' : 's') + ' · by ' +
            ((ev.created_by && (ev.created_by.display_name || ev.created_by.username)) || 'someone'))),
        ev.status === 'live' ? h('span', { class: 'live-pill' }, 'Live') : null);
        return li;
      }));
      byTestId('event-list-empty').hidden = this.list.length > 0;
      byTestId('event-list-empty').textContent = this.filter === 'live'
        ? 'No live events right now. Create one below.'
        : this.filter === 'scheduled' ? 'Nothing scheduled.' : 'No ended events.';
    },

    setFilter(status) {
      this.filter = status;
      for (const b of $$('[data-status]', byTestId('events-filter'))) b.setAttribute('aria-selected', String(b.dataset.status === status));
      this.loadList();
    },

    async createEvent(e) {
      e.preventDefault();
      const form = byTestId('create-event-form');
      const errEl = byTestId('create-event-error');
      const title = form.title.value.trim();
      if (!title) { showFormError(errEl, 'Give the event a title.'); return; }
      const button = byTestId('create-event-submit');
      button.disabled = true;
      showFormError(errEl, null);
      try {
        let ev = await api('POST', '/v1/events', {
          title,
          event_type: form.event_type.value,
          moderation_level: form.moderation_level.value,
          start_time: new Date().toISOString(),
          comment_settings: { allow_replies: true, slow_mode_seconds: 0 },
        });
        if (form.go_live.checked) {
          ev = await api('PUT', '/v1/events/' + ev.event_id + '/status', { status: 'live' });
        }
        form.title.value = '';
        toast(ev.status === 'live' ? '“' + ev.title + '” is live' : '“' + ev.title + '” created');
        if (this.filter !== ev.status) this.setFilter(ev.status === 'live' ? 'live' : 'scheduled');
        else await this.loadList();
        await this.open(ev.event_id, ev);
      } catch (err) {
        showFormError(errEl, err);
      } finally {
        button.disabled = false;
      }
    },

    async setStatus(status) {
      if (!this.current) return;
      try {
        const ev = await api('PUT', '/v1/events/' + this.current.event_id + '/status', { status });
        this.current = Object.assign({}, this.current, ev);
        this.renderHeader();
        this.loadList();
      } catch (err) {
        toast('Could not change the status: ' + describeError(err), 'error');
      }
    },

    /** Opens an event: loads its newest comments, then follows its room from there. */
    async open(eventId, known) {
      const seq = ++this.openSeq;
      if (this.current && this.current.event_id !== eventId) rooms.unfollow('event', this.current.event_id);
      this.comments.clear();
      this.elements.clear();
      this.replyTo = null;
      this.unseen = 0;
      byTestId('comment-list').replaceChildren();
      byTestId('event-placeholder').hidden = true;
      byTestId('event-detail').hidden = false;
      this.current = known || this.list.find((e) => e.event_id === eventId) || { event_id: eventId, title: 'Loading…', status: '' };
      this.renderHeader();
      this.renderList();
      this.renderReply();
      if (currentTab === 'events') history.replaceState(null, '', location.pathname + location.search + '#/events/' + eventId);
      try {
        if (!known) {
          const ev = await api('GET', '/v1/events/' + eventId);
          if (seq !== this.openSeq) return;
          this.current = ev;
          this.renderHeader();
        }
        await this.loadComments(seq);
      } catch (err) {
        if (seq !== this.openSeq) return;
        toast('Could not open the event: ' + describeError(err), 'error');
        if (err.status === 404) {
          this.current = null;
          byTestId('event-detail').hidden = true;
          byTestId('event-placeholder').hidden = false;
        }
      }
    },

    async loadComments(seq) {
      const eventId = this.current.event_id;
      const page = await api('GET', '/v1/events/' + eventId + '/comments?sort=newest&limit=100');
      if (seq !== this.openSeq) return;
      const list = (page.comments || []).slice().reverse();
      let maxPos = 0;
      for (const c of list) {
        this.upsert(c, { quiet: true });
        if (c.position > maxPos) maxPos = c.position;
      }
      if (this.current.comment_count > maxPos && !page.has_more) maxPos = this.current.comment_count;
      rooms.follow('event', eventId, maxPos);
      this.renderEmpty();
      this.scrollToBottom();
    },

    async reloadComments(opts) {
      if (!this.current) return;
      const seq = this.openSeq;
      try {
        const page = await api('GET', '/v1/events/' + this.current.event_id + '/comments?sort=newest&limit=100');
        if (seq !== this.openSeq) return;
        for (const c of (page.comments || []).slice().reverse()) this.upsert(c, { quiet: this.comments.has(c.comment_id) });
        this.renderEmpty();
      } catch (err) {
        if (!(opts && opts.quiet)) toast('Could not reload comments: ' + describeError(err), 'error');
      }
    },

    isModerator() {
      return !!this.current && !!this.current.created_by && isMe(this.current.created_by.user_id);
    },

    renderHeader() {
      const ev = this.current;
      if (!ev) return;
      byTestId('event-title').textContent = ev.title || '';
      const by = ev.created_by ? (ev.created_by.display_name || ev.created_by.username) : '';
      const parts = [];
      if (ev.event_type) parts.push(EVENT_TYPES[ev.event_type] || ev.event_type);
      if (this.isModerator()) parts.push('by you, so you moderate it');
      else if (by) parts.push('by ' + by);
      if (ev.moderation_level) parts.push(ev.moderation_level + ' moderation');
      byTestId('event-meta').textContent = parts.join(' · ');
      this.renderViewers();
      const badge = byTestId('event-status');
      badge.textContent = ev.status === 'scheduled' ? 'upcoming' : ev.status || '';
      badge.dataset.status = ev.status || '';
      byTestId('event-go-live').hidden = !(this.isModerator() && ev.status === 'scheduled');
      byTestId('event-end').hidden = !(this.isModerator() && ev.status === 'live');
      const live = ev.status === 'live';
      const canWrite = live && !!session;
      byTestId('comment-input').disabled = !canWrite;
      byTestId('comment-submit').disabled = !canWrite;
      byTestId('comment-input').placeholder = !session ? 'Sign in to comment' : live ? 'Write a comment…' :
        ev.status === 'scheduled' ? 'Comments open when the event goes live' : 'Comments are closed';
      this.renderNote();
      // Moderation buttons depend on who is looking.
      for (const id of this.elements.keys()) this.renderComment(id);
    },

    renderNote() {
      const ev = this.current;
      let note = '';
      if (ev && ev.status === 'live' && ev.moderation_level === 'strict') {
        note = this.isModerator()
          ? 'Strict moderation: new comments (yours too) wait for your approval; they show up here as they come in.'
          : 'This event is moderated: your comments appear once a moderator approves them.';
      }
      if (!socket.isOpen() && session) note = (note ? note + ' ' : '') + 'Offline: comments are posted over HTTP until the live connection is back.';
      byTestId('comment-note').textContent = note;
    },

    renderEmpty() {
      byTestId('comment-list-empty').hidden = this.comments.size > 0;
    },

    /** Adds or updates a comment (from REST, an ack, a broadcast or a catch-up). */
    upsert(c, opts) {
      if (!this.current || c.event_id !== this.current.event_id) return;
      const known = this.comments.get(c.comment_id);
      const merged = Object.assign({}, known || {}, c);
      // A later like count never goes back to an older one from a late duplicate.
      if (known && typeof known.like_count === 'number' && typeof c.like_count === 'number' &&
          Date.parse(c.updated_at || 0) < Date.parse(known.updated_at || 0)) {
        merged.like_count = known.like_count;
      }
      this.comments.set(c.comment_id, merged);
      const stream = byTestId('comment-list');
      const stick = nearBottom(stream);
      this.renderComment(c.comment_id, !known && !(opts && opts.quiet));
      if (!known) {
        // Comments replying to this one may already be shown with a placeholder quote.
        for (const other of this.comments.values()) {
          if (other.parent_comment_id === c.comment_id) this.renderComment(other.comment_id);
        }
        this.renderEmpty();
        if (!(opts && opts.quiet)) {
          if (stick || (opts && opts.mine)) this.scrollToBottom();
          else { this.unseen += 1; this.renderUnseen(); }
        }
      }
    },

    renderComment(id, fresh) {
      const c = this.comments.get(id);
      if (!c) return;
      const mine = !!c.user && isMe(c.user.user_id);
      const moderator = this.isModerator();
      const removed = c.is_deleted || c.moderation_status === 'blocked';
      const name = (c.user && (c.user.display_name || c.user.username)) || 'someone';
      const parent = c.parent_comment_id ? this.comments.get(c.parent_comment_id) : null;
      const live = this.current && this.current.status === 'live';

      let badge = null;
      if (c.is_deleted) badge = h('span', { class: 'c-badge deleted', testid: 'comment-badge' }, 'deleted');
      else if (c.moderation_status === 'blocked') badge = h('span', { class: 'c-badge blocked', testid: 'comment-badge' }, 'blocked');
      else if (c.moderation_status === 'pending') badge = h('span', { class: 'c-badge pending', testid: 'comment-badge' }, mine && !moderator ? 'awaiting approval' : 'pending');
      else if (c.moderation_status === 'flagged') badge = h('span', { class: 'c-badge flagged', testid: 'comment-badge' }, 'flagged');

      let content;
      if (c.is_deleted) content = h('div', { class: 'c-content removed', testid: 'comment-content' }, 'This comment was deleted.');
      else if (c.moderation_status === 'blocked') content = h('div', { class: 'c-content removed', testid: 'comment-content' }, 'This comment was removed by a moderator.');
      else content = h('div', { class: 'c-content', testid: 'comment-content' }, c.content || '');

      const liked = this.liked.has(id);
      const actions = h('div', { class: 'c-actions' },
        h('button', {
          type: 'button', testid: 'comment-like', 'aria-pressed': String(liked), disabled: removed || !c.position,
          title: liked ? 'Unlike' : 'Like', onclick: () => this.toggleLike(id),
        }, liked ? '♥ ' : '♡ ', h('span', { testid: 'comment-like-count' }, String(c.like_count || 0))),
        (this.current && this.current.comment_settings && this.current.comment_settings.allow_replies === false) ? null :
          h('button', { type: 'button', testid: 'comment-reply', disabled: removed || !live || !c.position, onclick: () => this.startReply(id) },
            icon('reply'), 'Reply' + (c.reply_count ? ' · ' + c.reply_count : '')),
        mine && !c.is_deleted ? h('button', { type: 'button', testid: 'comment-delete', disabled: !c.position, onclick: () => this.remove(id) }, icon('trash'), 'Delete') : null,
        moderator && !c.is_deleted && c.position ? h('span', { class: 'mod', testid: 'comment-moderation' },
          h('span', { class: 'mod-label' }, 'Mod'),
          c.moderation_status !== 'approved' ? h('button', { type: 'button', testid: 'moderate-approve', title: 'Approve: show it to everyone', onclick: () => this.moderate(id, 'approve') }, icon('check'), 'Approve') : null,
          c.moderation_status !== 'flagged' && c.moderation_status !== 'blocked' ? h('button', { type: 'button', testid: 'moderate-flag', title: 'Flag: keep it visible, marked for review', onclick: () => this.moderate(id, 'flag') }, icon('flag'), 'Flag') : null,
          c.moderation_status !== 'blocked' ? h('button', { type: 'button', testid: 'moderate-block', title: 'Block: hide its text from everyone', onclick: () => this.moderate(id, 'block') }, icon('block'), 'Block') : null,
          !mine ? h('button', { type: 'button', testid: 'moderate-delete', title: 'Delete this comment', onclick: () => this.remove(id) }, icon('trash'), 'Delete') : null,
        ) : null);

      let replyRef = null;
      if (c.parent_comment_id) {
        const pname = parent ? ((parent.user && (parent.user.display_name || parent.user.username)) || 'someone') : 'an earlier comment';
        const ptext = parent ? (parent.is_deleted ? 'deleted comment' : parent.moderation_status === 'blocked' ? 'removed comment' : '“' + snippet(parent.content, 80) + '”') : '';
        replyRef = h('div', {
          class: 'c-reply-ref', testid: 'comment-reply-ref', title: 'Show the comment replied to',
          onclick: () => this.flash(c.parent_comment_id),
        }, '↪ replying to ', h('b', {}, pname), ptext ? ' ' + ptext : '');
      }

      const li = h('li', {
        class: 'comment' + (fresh ? ' fresh' : ''), testid: 'comment',
        dataset: { commentId: id, position: c.position || '', status: c.is_deleted ? 'deleted' : c.moderation_status || '', mine: mine ? '1' : '' },
      },
      avatar(c.user),
      h('div', { class: 'c-body' },
        h('div', { class: 'c-meta' },
          h('span', { class: 'c-author', testid: 'comment-author' }, name),
          mine ? h('span', { class: 'c-you' }, 'you') : null,
          c.user && c.user.username ? h('span', {}, '@' + c.user.username) : null,
          h('span', { 'aria-hidden': 'true' }, '·'),
          timeEl(c.created_at, 'comment-time'),
          badge),
        replyRef,
        content,
        actions));

      const old = this.elements.get(id);
      this.elements.set(id, li);
      if (old) { old.replaceWith(li); return; }
      // Insert in position order (broadcasts can arrive out of order).
      const stream = byTestId('comment-list');
      const pos = c.position || Infinity;
      let before = null;
      for (let el = stream.lastElementChild; el; el = el.previousElementSibling) {
        const p = Number(el.dataset.position) || Infinity;
        if (p <= pos) break;
        before = el;
      }
      stream.insertBefore(li, before);
    },

    renderUnseen() {
      const b = byTestId('new-comments');
      b.hidden = this.unseen === 0;
      b.textContent = '↓ ' + this.unseen + ' new comment' + (this.unseen === 1 ? '' : 's');
    },

    scrollToBottom() {
      const stream = byTestId('comment-list');
      stream.scrollTop = stream.scrollHeight;
      this.unseen = 0;
      this.renderUnseen();
    },

    flash(id) {
      const el = this.elements.get(id);
      if (!el) return;
      el.scrollIntoView({ block: 'center', behavior: 'smooth' });
      el.classList.add('highlight');
      setTimeout(() => el.classList.remove('highlight'), 1500);
    },

    startReply(id) {
      this.replyTo = this.comments.get(id) || null;
      this.renderReply();
      byTestId('comment-input').focus();
    },

    renderReply() {
      const chip = byTestId('reply-chip');
      const c = this.replyTo;
      chip.hidden = !c;
      if (!c) return;
      $('[data-role="reply-name"]', chip).textContent = (c.user && (c.user.display_name || c.user.username)) || 'someone';
      $('[data-role="reply-text"]', chip).textContent = '“' + snippet(c.content, 60) + '”';
    },

    /** Posts a comment over the socket (`comment_submit`), or over REST when offline. */
    async submit(e) {
      e.preventDefault();
      const input = byTestId('comment-input');
      const content = input.value.trim();
      if (!content || !this.current) return;
      const ev = this.current;
      const parent = this.replyTo ? this.replyTo.comment_id : null;
      const key = uuid(); // the idempotency key, for both transports
      const button = byTestId('comment-submit');
      button.disabled = true;
      try {
        let view;
        try {
          const ack = await socket.request('comment_submit', {
            event_id: ev.event_id, content, parent_comment_id: parent,
            client_metadata: { platform: 'web', version: 'banter-local-demo' },
          }, { messageId: key });
          view = Object.assign({
            user: { user_id: session.user.user_id, username: session.user.username, display_name: session.user.display_name, avatar_url: session.user.avatar_url || null },
            content, reply_count: 0, like_count: 0, is_deleted: false, updated_at: ack.created_at,
          }, ack);
          delete view.created;
        } catch (err) {
          if (err.code !== 'OFFLINE' && err.code !== 'TIMEOUT') throw err;
          view = await api('POST', '/v1/events/' + ev.event_id + '/comments',
            { content, parent_comment_id: parent, client_metadata: { platform: 'web' } },
            { headers: { 'Idempotency-Key': key } });
        }
        if (view.position) rooms.accept('event', ev.event_id, view.position);
        if (!this.comments.has(view.comment_id)) this.noteCount(ev.event_id);
        this.upsert(view, { mine: true });
        input.value = '';
        input.dispatchEvent(new Event('input'));
        this.replyTo = null;
        this.renderReply();
        if (view.moderation_status === 'pending') toast('Sent — it appears for everyone once a moderator approves it.');
      } catch (err) {
        const msg = err.code === 'RATE_LIMIT_EXCEEDED'
          ? 'Slow down a little' + (err.retryAfter ? ' (try again in ' + err.retryAfter + ' s)' : '')
          : describeError(err);
        toast('Comment not posted: ' + msg, 'error');
      } finally {
        button.disabled = !(this.current && this.current.status === 'live');
        input.focus();
      }
    },

    async toggleLike(id) {
      try {
        const r = await api('PUT', '/v1/comments/' + id + '/like');
        if (r.liked) this.liked.add(id); else this.liked.delete(id);
        const c = this.comments.get(id);
        if (c) { c.like_count = r.like_count; this.renderComment(id); }
      } catch (err) {
        toast('Could not like: ' + describeError(err), 'error');
      }
    },

    async remove(id) {
      try {
        const r = await api('DELETE', '/v1/comments/' + id);
        if (r && r.comment) this.upsert(r.comment);
      } catch (err) {
        toast('Could not delete: ' + describeError(err), 'error');
      }
    },

    async moderate(id, action) {
      try {
        const r = await api('POST', '/v1/comments/' + id + '/moderation', { action });
        if (r && r.comment) this.upsert(r.comment);
      } catch (err) {
        toast('Moderation failed: ' + describeError(err), 'error');
      }
    },

    // --- live frames -----------------------------------------------------------------

    /** A comment waiting for approval, sent live to the event's moderators only. */
    onPending(p) {
      if (!this.current || p.event_id !== this.current.event_id || !this.isModerator()) return;
      if (!this.comments.has(p.comment_id)) this.upsert(p);
    },

    onBroadcast(p) {
      if (!this.current || p.event_id !== this.current.event_id) return;
      const dup = !rooms.accept('event', p.event_id, p.position);
      if (dup && this.comments.has(p.comment_id)) {
        // A duplicate (retry or catch-up overlap): still take newer fields.
        this.upsert(p, { quiet: true });
        return;
      }
      if (!this.comments.has(p.comment_id)) this.noteCount(p.event_id);
      this.upsert(p);
    },

    /** Counts one more comment of the event in the list (a comment this page had not seen). */
    noteCount(eventId) {
      let changed = false;
      for (const ev of this.list.concat(this.current && !this.list.includes(this.current) ? [this.current] : [])) {
        if (ev.event_id === eventId) {
          ev.comment_count = (ev.comment_count || 0) + 1;
          changed = true;
        }
      }
      if (changed) this.renderList();
    },

    onUpdated(p) {
      const c = this.current && p.event_id === this.current.event_id && this.comments.get(p.comment_id);
      if (!c) return;
      if (typeof p.like_count === 'number') c.like_count = p.like_count;
      if (typeof p.reply_count === 'number') c.reply_count = p.reply_count;
      this.renderComment(p.comment_id);
    },

    onDeleted(p) {
      const c = this.current && p.event_id === this.current.event_id && this.comments.get(p.comment_id);
      if (!c) return;
      c.is_deleted = true;
      c.content = '';
      if (this.replyTo && this.replyTo.comment_id === p.comment_id) { this.replyTo = null; this.renderReply(); }
      this.renderComment(p.comment_id);
      for (const other of this.comments.values()) if (other.parent_comment_id === p.comment_id) this.renderComment(other.comment_id);
    },

    onModeration(p) {
      const c = this.current && p.event_id === this.current.event_id && this.comments.get(p.comment_id);
      if (!c) return;
      c.moderation_status = p.action === 'approved' ? 'approved' : p.action === 'blocked' ? 'blocked' : 'flagged';
      if (c.moderation_status === 'blocked') c.content = '';
      this.renderComment(p.comment_id);
      for (const other of this.comments.values()) if (other.parent_comment_id === p.comment_id) this.renderComment(other.comment_id);
    },

    /** The viewer count: `participant_count` over REST, then each `occupancy` of the room. */
    renderViewers() {
      const ev = this.current;
      const el = byTestId('event-viewers');
      const n = ev && typeof ev.participant_count === 'number' ? ev.participant_count : null;
      el.hidden = n === null || n === 0;
      if (n !== null) el.textContent = (ev.viewers_exact === false ? '≈' : '') + n + ' watching';
    },

    onOccupancy(p) {
      for (const ev of this.list) if (ev.event_id === p.event_id) ev.participant_count = p.viewers;
      if (this.current && this.current.event_id === p.event_id) {
        this.current.participant_count = p.viewers;
        this.current.viewers_exact = p.exact;
        this.renderViewers();
      }
    },

    /** Another moderator changed the event's settings (title, moderation, slow mode…). */
    onEventUpdated(p) {
      const apply = (ev) => Object.assign(ev, {
        title: p.title,
        description: p.description,
        moderation_level: p.moderation_level,
        max_participants: p.max_participants,
        comment_settings: Object.assign({}, ev.comment_settings || {}, p.comment_settings),
        updated_at: p.updated_at,
      });
      for (const ev of this.list) if (ev.event_id === p.event_id) apply(ev);
      if (this.current && this.current.event_id === p.event_id) {
        apply(this.current);
        this.renderHeader();
      }
      this.renderList();
    },

    onStatus(p) {
      for (const ev of this.list) if (ev.event_id === p.event_id) ev.status = p.status;
      if (this.current && this.current.event_id === p.event_id) {
        this.current.status = p.status;
        this.renderHeader();
        if (p.status !== 'live') toast('“' + this.current.title + '” is now ' + p.status);
        else toast('“' + this.current.title + '” is live!');
      }
      this.renderList();
    },
  };

  // ===================================================================================
  // 7. Chat tab
  // ===================================================================================

  const RECEIPT_RANK = { failed: -1, sending: 0, sent: 1, delivered: 2, read: 3 };
  const RECEIPT_LABEL = { failed: '⚠ not sent', sending: 'sending…', sent: 'sent', delivered: '✓ delivered', read: '✓✓ read' };

  const chat = {
    conversations: new Map(), // conversation_id -> conversation (REST shape, kept up to date)
    currentId: null,
    messages: new Map(), // message_id -> message of the open conversation
    elements: new Map(), // message_id -> <li>
    receipts: new Map(), // message_id -> 'delivered' | 'read' (from others)
    readUpTo: new Map(), // conversation_id -> highest position others read (any participant)
    deliveredUpTo: new Map(), // conversation_id -> highest position others received
    readSent: new Map(), // conversation_id -> highest position this user marked read
    typing: new Map(), // conversation_id -> Map(user_id -> expires_at)
    presence: new Map(), // user_id -> status
    pollTimer: null,
    typingState: { conversationId: null, active: false, lastSent: 0, idleTimer: null },
    openSeq: 0,
    searchSeq: 0,

    reset() {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
      this.conversations.clear();
      this.currentId = null;
      this.messages.clear();
      this.elements.clear();
      this.receipts.clear();
      this.readUpTo.clear();
      this.deliveredUpTo.clear();
      this.readSent.clear();
      this.typing.clear();
      byTestId('conversation-list').replaceChildren();
      byTestId('message-list').replaceChildren();
      byTestId('chat-detail').hidden = true;
      byTestId('chat-placeholder').hidden = false;
      this.renderUnreadTotal();
    },

    start() {
      this.loadList();
      clearInterval(this.pollTimer);
      // There is no per-user room: new conversations are found by polling the list.
      this.pollTimer = setInterval(() => this.loadList(), CONVERSATION_POLL_MS);
    },

    forget(id) {
      this.conversations.delete(id);
      this.renderList();
    },

    onShown() {
      this.loadList();
      this.markRead();
    },

    async loadList() {
      if (!session) return;
      try {
        const page = await api('GET', '/v1/conversations?limit=50');
        for (const c of page.conversations || []) {
          const known = this.conversations.get(c.conversation_id);
          if (known) {
            // Keep live-tracked counts unless the server knows more.
            const lastKnown = known.last_message ? known.last_message.position : 0;
            const lastNew = c.last_message ? c.last_message.position : 0;
            if (lastNew < lastKnown) { c.last_message = known.last_message; c.unread_count = known.unread_count; }
            if (c.conversation_id === this.currentId && this.isVisible()) c.unread_count = 0;
          }
          this.conversations.set(c.conversation_id, c);
          const lastPos = c.last_message ? c.last_message.position : 0;
          const room = rooms.get('conversation', c.conversation_id);
          if (!room) rooms.follow('conversation', c.conversation_id, lastPos);
          // The list counted what it lists: a late live copy must not count it again. (The
          // open conversation keeps its own watermark: it shows every message.)
          else if (c.conversation_id !== this.currentId) rooms.advanceTo(room, lastPos);
        }
        this.renderList();
      } catch (err) {
        if (session && err.code !== 'NETWORK') console.warn('banter: conversations', err);
      }
    },

    title(c) {
      if (!c) return '';
      if (c.title) return c.title;
      const others = (c.participants || []).filter((p) => !isMe(p.user_id));
      if (!others.length) return 'Just you';
      return others.map((p) => p.display_name || p.username).join(', ');
    },

    other(c) {
      return (c && (c.participants || []).find((p) => !isMe(p.user_id))) || null;
    },

    participant(conversationId, userId) {
      const c = this.conversations.get(conversationId);
      return (c && (c.participants || []).find((p) => p.user_id === userId)) || null;
    },

    nameOf(conversationId, userId) {
      const p = this.participant(conversationId, userId);
      return p ? (p.display_name || p.username) : 'Someone';
    },

    sorted() {
      return Array.from(this.conversations.values()).sort((a, b) => {
        const ta = Date.parse((a.last_message && a.last_message.created_at) || a.updated_at || a.created_at) || 0;
        const tb = Date.parse((b.last_message && b.last_message.created_at) || b.updated_at || b.created_at) || 0;
        return tb - ta;
      });
    },

    renderList() {
      const ul = byTestId('conversation-list');
      const items = this.sorted();
      ul.replaceChildren(...items.map((c) => {
        const typers = this.typers(c.conversation_id);
        const last = c.last_message;
        let preview = 'No messages yet';
        if (last) preview = (isMe(last.sender_id) ? 'You: ' : '') + (last.is_deleted ? 'message deleted' : snippet(last.content, 60));
        const other = this.other(c);
        return h('li', {
          testid: 'conversation-item', dataset: { conversationId: c.conversation_id },
          'aria-current': c.conversation_id === this.currentId ? 'true' : 'false',
          onclick: () => this.open(c.conversation_id),
        },
        avatar(other || { display_name: c.title, user_id: c.conversation_id }),
        h('div', { class: 'li-main' },
          h('div', { class: 'li-title', testid: 'conversation-title' }, this.title(c)),
          typers.length
            ? h('div', { class: 'li-sub typing-preview' }, typers.length === 1 ? 'typing…' : typers.length + ' people typing…')
            : h('div', { class: 'li-sub' }, preview)),
        c.unread_count > 0 ? h('span', { class: 'count-badge', testid: 'conversation-unread' }, String(c.unread_count)) : null);
      }));
      byTestId('conversation-list-empty').hidden = items.length > 0;
      this.renderUnreadTotal();
    },

    renderUnreadTotal() {
      let total = 0;
      for (const c of this.conversations.values()) total += c.unread_count || 0;
      const b = byTestId('chat-unread-total');
      b.hidden = total === 0;
      b.textContent = String(total);
    },

    // --- search and start ---------------------------------------------------------------

    async search(q) {
      const ul = byTestId('user-search-results');
      q = q.trim();
      const seq = ++this.searchSeq;
      if (!q) { ul.hidden = true; ul.replaceChildren(); return; }
      try {
        const page = await api('GET', '/v1/users/search?q=' + encodeURIComponent(q) + '&limit=10');
        if (seq !== this.searchSeq) return;
        const users = (page.users || []).filter((u) => !isMe(u.user_id));
        ul.replaceChildren(...(users.length ? users.map((u) => h('li', {
          testid: 'user-search-result', dataset: { userId: u.user_id, username: u.username },
          onclick: () => this.startWith(u),
        }, avatar(u, 'small'), h('div', { class: 'li-main' },
          h('div', { class: 'li-title' }, u.display_name || u.username),
          h('div', { class: 'li-sub' }, '@' + u.username)))) : [h('li', { class: 'empty' }, 'Nobody found for “' + q + '”')]));
        ul.hidden = false;
      } catch (err) {
        if (seq === this.searchSeq) { ul.replaceChildren(h('li', { class: 'empty' }, describeError(err))); ul.hidden = false; }
      }
    },

    async startWith(user) {
      const input = byTestId('user-search-input');
      input.value = '';
      byTestId('user-search-results').hidden = true;
      try {
        const c = await api('POST', '/v1/conversations', { conversation_type: 'direct', participant_ids: [user.user_id] });
        this.conversations.set(c.conversation_id, Object.assign(this.conversations.get(c.conversation_id) || {}, c));
        if (!rooms.get('conversation', c.conversation_id)) {
          rooms.follow('conversation', c.conversation_id, c.last_message ? c.last_message.position : 0);
        }
        this.renderList();
        await this.open(c.conversation_id);
      } catch (err) {
        toast('Could not start the chat: ' + describeError(err), 'error');
      }
    },

    // --- one conversation ---------------------------------------------------------------

    async open(id) {
      const seq = ++this.openSeq;
      this.stopTyping();
      this.currentId = id;
      this.messages.clear();
      this.elements.clear();
      byTestId('message-list').replaceChildren();
      byTestId('chat-placeholder').hidden = true;
      byTestId('chat-detail').hidden = false;
      if (currentTab === 'chat') history.replaceState(null, '', location.pathname + location.search + '#/chat/' + id);
      if (!this.conversations.has(id)) await this.loadList();
      if (seq !== this.openSeq) return;
      if (!this.conversations.has(id)) {
        toast('That conversation was not found.', 'error');
        this.currentId = null;
        byTestId('chat-detail').hidden = true;
        byTestId('chat-placeholder').hidden = false;
        return;
      }
      this.renderHeader();
      this.renderList();
      this.renderTyping();
      try {
        const page = await api('GET', '/v1/conversations/' + id + '/messages?limit=100');
        if (seq !== this.openSeq) return;
        const list = (page.messages || []).slice().reverse();
        for (const m of list) this.upsert(m, { quiet: true });
        const maxPos = list.length ? list[list.length - 1].position : 0;
        rooms.follow('conversation', id, maxPos);
        this.renderEmpty();
        this.scrollToBottom();
        this.markRead();
      } catch (err) {
        if (seq === this.openSeq) toast('Could not load messages: ' + describeError(err), 'error');
      }
      byTestId('message-input').focus();
    },

    renderHeader() {
      const c = this.conversations.get(this.currentId);
      if (!c) return;
      byTestId('chat-title').textContent = this.title(c);
      const other = this.other(c);
      paintAvatar($('[data-role="chat-avatar"]'), other || { display_name: c.title, user_id: c.conversation_id });
      let sub;
      if (c.conversation_type === 'group') sub = (c.participants || []).length + ' people';
      else if (other) {
        const pres = this.presence.get(other.user_id);
        sub = '@' + other.username + (pres ? ' · ' + (pres === 'active' ? 'online' : pres) : '');
      } else sub = '';
      byTestId('chat-subtitle').textContent = sub;
    },

    renderEmpty() {
      byTestId('message-list-empty').hidden = this.messages.size > 0;
    },

    upsert(m, opts) {
      if (m.conversation_id !== this.currentId) return;
      const known = this.messages.get(m.message_id);
      // An optimistic copy (keyed by client_message_id) is replaced by the real message.
      if (!known && m.client_message_id && isMe(m.sender_id)) {
        const tmpId = 'local:' + m.client_message_id;
        if (this.messages.has(tmpId)) {
          this.messages.delete(tmpId);
          const el = this.elements.get(tmpId);
          this.elements.delete(tmpId);
          if (el) el.remove();
        }
      }
      this.messages.set(m.message_id, Object.assign({}, known || {}, m));
      const stream = byTestId('message-list');
      const stick = nearBottom(stream);
      this.renderMessage(m.message_id);
      if (!known) {
        this.renderEmpty();
        if (!(opts && opts.quiet) && (stick || isMe(m.sender_id))) this.scrollToBottom();
      }
    },

    receiptOf(m) {
      if (m.local_status) return m.local_status;
      const readTo = this.readUpTo.get(m.conversation_id) || 0;
      const deliveredTo = this.deliveredUpTo.get(m.conversation_id) || 0;
      let s = 'sent';
      if (m.position && m.position <= deliveredTo) s = 'delivered';
      if (m.position && m.position <= readTo) s = 'read';
      const own = this.receipts.get(m.message_id);
      if (own && RECEIPT_RANK[own] > RECEIPT_RANK[s]) s = own;
      return s;
    },

    renderMessage(id) {
      const m = this.messages.get(id);
      if (!m) return;
      const mine = isMe(m.sender_id);
      const c = this.conversations.get(m.conversation_id);
      const group = c && c.conversation_type === 'group';
      const status = mine ? this.receiptOf(m) : null;
      const li = h('li', {
        class: 'msg ' + (mine ? 'mine' : 'theirs') + (m.is_deleted ? ' deleted' : ''), testid: 'message',
        dataset: { messageId: id, position: m.position || '', mine: mine ? '1' : '' },
      },
      group && !mine ? h('div', { class: 'msg-sender' }, this.nameOf(m.conversation_id, m.sender_id)) : null,
      h('div', { class: 'bubble', testid: 'message-content' }, m.is_deleted ? 'Message deleted' : m.content),
      h('div', { class: 'msg-meta' },
        timeEl(m.created_at, 'message-time', true),
        mine ? h('span', { class: 'receipt', testid: 'message-receipt', dataset: { status }, title: status === 'read' ? 'Read' : status === 'delivered' ? 'Delivered to their device' : '' }, RECEIPT_LABEL[status]) : null));
      const old = this.elements.get(id);
      this.elements.set(id, li);
      if (old) { old.replaceWith(li); return; }
      const stream = byTestId('message-list');
      const pos = m.position || Infinity;
      let before = null;
      for (let el = stream.lastElementChild; el; el = el.previousElementSibling) {
        const p = Number(el.dataset.position) || Infinity;
        if (p <= pos) break;
        before = el;
      }
      stream.insertBefore(li, before);
    },

    scrollToBottom() {
      const stream = byTestId('message-list');
      stream.scrollTop = stream.scrollHeight;
    },

    isVisible() {
      return currentTab === 'chat' && document.visibilityState === 'visible' && !!this.currentId;
    },

    /** Sends `message_read` for the newest message of others in the open conversation. */
    markRead() {
      if (!this.isVisible()) return;
      const id = this.currentId;
      let newest = null;
      for (const m of this.messages.values()) {
        if (!isMe(m.sender_id) && m.position && (!newest || m.position > newest.position)) newest = m;
      }
      const c = this.conversations.get(id);
      if (c && c.unread_count) { c.unread_count = 0; this.renderList(); }
      if (!newest || (this.readSent.get(id) || 0) >= newest.position) return;
      this.readSent.set(id, newest.position);
      socket.request('message_read', { conversation_id: id, message_id: newest.message_id })
        .catch(() => { if ((this.readSent.get(id) || 0) === newest.position) this.readSent.delete(id); });
    },

    async send(e) {
      e.preventDefault();
      const input = byTestId('message-input');
      const content = input.value.trim();
      const id = this.currentId;
      if (!content || !id) return;
      this.stopTyping();
      const clientMessageId = uuid();
      const tmpId = 'local:' + clientMessageId;
      const draft = {
        message_id: tmpId, conversation_id: id, sender_id: session.user.user_id, content,
        client_message_id: clientMessageId, created_at: new Date().toISOString(), position: 0,
        local_status: 'sending', is_deleted: false,
      };
      this.messages.set(tmpId, draft);
      this.renderMessage(tmpId);
      this.renderEmpty();
      this.scrollToBottom();
      input.value = '';
      input.dispatchEvent(new Event('input'));
      try {
        let view;
        try {
          const ack = await socket.request('send_message', { conversation_id: id, content, client_message_id: clientMessageId });
          view = Object.assign({}, draft, ack, { local_status: undefined });
          delete view.created;
        } catch (err) {
          if (err.code !== 'OFFLINE' && err.code !== 'TIMEOUT') throw err;
          view = await api('POST', '/v1/conversations/' + id + '/messages', { content, client_message_id: clientMessageId });
        }
        rooms.accept('conversation', id, view.position);
        this.noteLast(view);
        this.upsert(view);
        this.renderList();
      } catch (err) {
        const d = this.messages.get(tmpId);
        if (d) { d.local_status = 'failed'; this.renderMessage(tmpId); }
        const msg = err.code === 'RATE_LIMIT_EXCEEDED' ? 'Slow down a little' : describeError(err);
        toast('Message not sent: ' + msg, 'error');
      }
    },

    /** Keeps the list's preview and order current. */
    noteLast(m) {
      const c = this.conversations.get(m.conversation_id);
      if (!c) return;
      if (!c.last_message || (m.position || 0) >= (c.last_message.position || 0)) {
        c.last_message = {
          message_id: m.message_id, sender_id: m.sender_id, content: m.content, message_type: m.message_type || 'text',
          position: m.position, created_at: m.created_at, is_deleted: !!m.is_deleted,
        };
      }
    },

    // --- typing -------------------------------------------------------------------------

    onInput() {
      const id = this.currentId;
      if (!id) return;
      const t = this.typingState;
      if (!byTestId('message-input').value.trim()) { this.stopTyping(); return; }
      const now = Date.now();
      if (!t.active || t.conversationId !== id || now - t.lastSent > TYPING_REPEAT_MS) {
        if (t.active && t.conversationId !== id) this.stopTyping();
        t.active = true;
        t.conversationId = id;
        t.lastSent = now;
        socket.fire('typing_start', { conversation_id: id });
      }
      clearTimeout(t.idleTimer);
      t.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
    },

    stopTyping() {
      const t = this.typingState;
      clearTimeout(t.idleTimer);
      if (t.active && t.conversationId) socket.fire('typing_stop', { conversation_id: t.conversationId });
      t.active = false;
    },

    typers(conversationId) {
      const m = this.typing.get(conversationId);
      if (!m) return [];
      const now = Date.now();
      const out = [];
      for (const [userId, until] of m) {
        if (until > now) out.push(userId);
        else m.delete(userId);
      }
      return out;
    },

    renderTyping() {
      const el = byTestId('typing-indicator');
      const ids = this.currentId ? this.typers(this.currentId) : [];
      if (!ids.length) { el.textContent = ''; return; }
      const names = ids.map((u) => this.nameOf(this.currentId, u));
      el.textContent = names.length === 1 ? names[0] + ' is typing…'
        : names.length === 2 ? names[0] + ' and ' + names[1] + ' are typing…'
        : names.length + ' people are typing…';
    },

    // --- live frames ----------------------------------------------------------------------

    onNewMessage(p) {
      const m = p.message;
      if (!m) return;
      const id = p.conversation_id || m.conversation_id;
      const fresh = rooms.accept('conversation', id, m.position);
      const open = id === this.currentId;
      if (!fresh && !(open && !this.messages.has(m.message_id))) {
        if (open) this.upsert(m, { quiet: true });
        return;
      }
      // Whoever sent it has stopped typing.
      const tm = this.typing.get(id);
      if (tm && tm.delete(m.sender_id)) { this.renderTyping(); }
      this.noteLast(m);
      if (!isMe(m.sender_id)) {
        socket.fire('message_delivered', { conversation_id: id, message_id: m.message_id });
        const c = this.conversations.get(id);
        if (open && this.isVisible()) {
          if (c) c.unread_count = 0;
        } else if (c && fresh) {
          c.unread_count = (c.unread_count || 0) + 1;
        }
        if (!c) this.loadList();
      }
      if (open) {
        this.upsert(m);
        this.markRead();
      }
      this.renderList();
    },

    onMessageUpdated(p) {
      const m = p.message;
      if (!m || m.conversation_id !== this.currentId || !this.messages.has(m.message_id)) return;
      this.upsert(m, { quiet: true });
    },

    onTyping(p) {
      if (isMe(p.user_id)) return;
      let m = this.typing.get(p.conversation_id);
      if (!m) { m = new Map(); this.typing.set(p.conversation_id, m); }
      if (p.is_typing) m.set(p.user_id, Date.now() + TYPING_STALE_MS);
      else m.delete(p.user_id);
      if (p.conversation_id === this.currentId) this.renderTyping();
      this.renderList();
    },

    onPresence(p) {
      this.presence.set(p.user_id, p.status);
      this.renderHeader();
    },

    onReceipt(p) {
      if (isMe(p.user_id)) return;
      const id = p.conversation_id;
      // A read receipt covers everything up to that message; find its position.
      const m = this.messages.get(p.message_id);
      const c = this.conversations.get(id);
      let pos = m && m.position;
      if (!pos && c && c.last_message && c.last_message.message_id === p.message_id) pos = c.last_message.position;
      if (pos) {
        const map = p.status === 'read' ? this.readUpTo : this.deliveredUpTo;
        if ((map.get(id) || 0) < pos) map.set(id, pos);
        if (p.status === 'read' && (this.deliveredUpTo.get(id) || 0) < pos) this.deliveredUpTo.set(id, pos);
      } else {
        const prev = this.receipts.get(p.message_id);
        if (!prev || RECEIPT_RANK[p.status] > RECEIPT_RANK[prev]) this.receipts.set(p.message_id, p.status);
      }
      if (id === this.currentId) {
        for (const mid of this.messages.keys()) {
          const mm = this.messages.get(mid);
          if (isMe(mm.sender_id)) this.renderMessage(mid);
        }
      }
    },
  };

  // ===================================================================================
  // 8. Start-up
  // ===================================================================================

  socket.on('comment_broadcast', (p) => events.onBroadcast(p));
  socket.on('comment_pending', (p) => events.onPending(p));
  socket.on('comment_updated', (p) => events.onUpdated(p));
  socket.on('comment_deleted', (p) => events.onDeleted(p));
  socket.on('moderation_action', (p) => events.onModeration(p));
  socket.on('event_status_changed', (p) => events.onStatus(p));
  socket.on('occupancy', (p) => events.onOccupancy(p));
  socket.on('event_updated', (p) => events.onEventUpdated(p));
  socket.on('new_message', (p) => chat.onNewMessage(p));
  socket.on('message_updated', (p) => chat.onMessageUpdated(p));
  socket.on('user_typing', (p) => chat.onTyping(p));
  socket.on('presence_changed', (p) => chat.onPresence(p));
  socket.on('delivery_status_update', (p) => chat.onReceipt(p));

  function wire() {
    for (const b of $$('[data-mode]')) b.addEventListener('click', () => setAuthMode(b.dataset.mode));
    byTestId('auth-form').addEventListener('submit', submitAuth);
    byTestId('auth-watch').addEventListener('click', () => startWatching());
    byTestId('watch-sign-in').addEventListener('click', () => stopWatching());
    byTestId('logout').addEventListener('click', () => signOut());
    for (const t of $$('.tab')) t.addEventListener('click', () => setTab(t.dataset.tab));
    byTestId('connection-status').addEventListener('click', () => {
      if (session && socket.state !== 'online') { socket.attempt = 0; socket.connect(); }
    });

    for (const b of $$('[data-status]', byTestId('events-filter'))) b.addEventListener('click', () => events.setFilter(b.dataset.status));
    byTestId('events-refresh').addEventListener('click', () => events.loadList());
    byTestId('create-event-form').addEventListener('submit', (e) => events.createEvent(e));
    byTestId('event-go-live').addEventListener('click', () => events.setStatus('live'));
    byTestId('event-end').addEventListener('click', () => events.setStatus('ended'));
    byTestId('comments-refresh').addEventListener('click', () => events.reloadComments());
    byTestId('reply-cancel').addEventListener('click', () => { events.replyTo = null; events.renderReply(); });
    byTestId('new-comments').addEventListener('click', () => events.scrollToBottom());
    byTestId('comment-list').addEventListener('scroll', () => {
      if (events.unseen && nearBottom(byTestId('comment-list'))) { events.unseen = 0; events.renderUnseen(); }
    });
    const commentForm = byTestId('comment-form');
    commentForm.addEventListener('submit', (e) => events.submit(e));
    wireComposer(byTestId('comment-input'), commentForm);

    byTestId('conversations-refresh').addEventListener('click', () => chat.loadList());
    let searchTimer = null;
    const search = byTestId('user-search-input');
    search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => chat.search(search.value), 200); });
    search.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { search.value = ''; chat.search(''); }
      if (e.key === 'Enter') { e.preventDefault(); const first = $('[data-testid="user-search-result"]'); if (first) first.click(); }
    });
    document.addEventListener('click', (e) => {
      if (!e.target.closest('.search')) byTestId('user-search-results').hidden = true;
    });
    const messageForm = byTestId('message-form');
    messageForm.addEventListener('submit', (e) => chat.send(e));
    wireComposer(byTestId('message-input'), messageForm);
    byTestId('message-input').addEventListener('input', () => chat.onInput());
    byTestId('message-input').addEventListener('blur', () => chat.stopTyping());

    document.addEventListener('visibilitychange', () => {
      if (!session) return;
      socket.fire('presence_update', { status: document.visibilityState === 'visible' ? 'active' : 'away' });
      if (document.visibilityState === 'visible') {
        chat.markRead();
        if (socket.state !== 'online') { socket.attempt = 0; socket.connect(); }
      }
    });
    window.addEventListener('online', () => { if (session && socket.state !== 'online') { socket.attempt = 0; socket.connect(); } });

    setInterval(() => {
      refreshRelativeTimes();
      if (socket.state === 'offline') renderConnection();
      events.renderNote();
      // Expire stale typing indicators (they are never caught up).
      if (chat.currentId) chat.renderTyping();
    }, 1000);
    setInterval(() => { if ((session || watching) && currentTab === 'events') events.loadList(); }, EVENTS_POLL_MS);
    // Refresh the access token ahead of expiry so the next reconnect has a valid one.
    setInterval(() => { if (session) freshAccessToken().catch(() => {}); }, 20000);
  }

  // For debugging in the console and for the browser test: window.banter.
  window.banter = {
    config: { api: API_BASE || location.origin, ws: WS_URL },
    get session() { return session && { user: session.user, expires_at: session.expires_at }; },
    get connection() { return socket.state; },
    rooms: () => Array.from(rooms.map.values()).map((r) => ({ room: r.kind + ':' + r.id, last_position: r.lastPos })),
    /** Drops the socket; with {reconnect: false} it stays down until banter.reconnect(). */
    disconnect: (opts) => socket.disconnect(opts || { reconnect: true }),
    reconnect: () => { socket.attempt = 0; socket.connect(); },
    /** Replaces the access token with an invalid one, as if it had expired early. */
    spoilAccessToken: () => {
      if (!session) return;
      session.access_token = 'spoiled.' + session.access_token.split('.').slice(1).join('.');
      session.expires_at = Date.now() + 600000;
      saveSession();
    },
    get accessToken() { return session && session.access_token; },
  };

  wire();
  setAuthMode('register');
  session = loadSession();
  if (session) startSignedIn();
  else renderShell();
})();
