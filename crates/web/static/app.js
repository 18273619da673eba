// AgentIQ Chat Center — the operator UI's only script. Hand-written, no dependencies, no build.
// Behaviour is picked by <body data-page="login|inbox|chat|accounts|notifications|settings">.
// Every write to the API carries the session's CSRF token (from <meta name="csrf-token">) in
// X-CSRF-Token. Every signed-in page listens to /api/v1/stream for escalations (toast + badge).
(function () {
  'use strict';

  var page = document.body.getAttribute('data-page') || '';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  function $(id) { return document.getElementById(id); }

  // fetch() with the CSRF header and JSON handling. Resolves to {status, json}; a 401 on a
  // page that needs a session goes back to the login page.
  function api(method, url, body, extraHeaders) {
    var headers = { 'X-CSRF-Token': csrf, 'Accept': 'application/json' };
    var init = { method: method, headers: headers, credentials: 'same-origin' };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (extraHeaders) { Object.keys(extraHeaders).forEach(function (k) { headers[k] = extraHeaders[k]; }); }
    return fetch(url, init).then(function (r) {
      if (r.status === 401 && page !== 'login') { toLogin(); }
      return r.text().then(function (t) {
        var json = null;
        try { json = t ? JSON.parse(t) : null; } catch (e) { json = null; }
        return { status: r.status, json: json };
      });
    });
  }

  function toLogin() {
    location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
  }

  function errorText(res, fallback) {
    return (res && res.json && res.json.message) || fallback || 'Что-то пошло не так. Попробуйте ещё раз.';
  }

  // Replaces the children of `el` with the HTML fragment at `url` (rendered and escaped by the
  // server's templates).
  function reload(el, url) {
    return fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } }).then(function (r) {
      if (r.status === 401) { toLogin(); return false; }
      if (!r.ok) { return false; }
      return r.text().then(function (html) { el.innerHTML = html; localTimes(el); return true; });
    }).catch(function () { return false; });
  }

  function debounce(fn, ms) {
    var t = null;
    return function () {
      var args = arguments;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  // <time data-ts> gets the local date and time as its tooltip.
  function localTimes(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll('time[data-ts]'), function (t) {
      var ms = Number(t.getAttribute('data-ts'));
      if (ms > 0) {
        var d = new Date(ms);
        t.title = d.toLocaleString('ru-RU');
        t.setAttribute('datetime', d.toISOString());
      }
    });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // One /api/v1/stream connection per page, shared by everything that listens to it.
  var source = null;
  function stream() {
    if (source || !window.EventSource || page === 'login') { return source; }
    var dot = $('live');
    source = new EventSource('/api/v1/stream');
    source.addEventListener('ready', function () { if (dot) { dot.classList.add('on'); } });
    source.onerror = function () { if (dot) { dot.classList.remove('on'); } };
    return source;
  }

  // Live updates: `onChange` runs (debounced) on every event of the stream (plus the `extra`
  // event names, e.g. 'escalation').
  function live(onChange, extra) {
    var es = stream();
    if (!es) { return; }
    var kick = debounce(onChange, 250);
    ['new_messages', 'account_state', 'resync'].concat(extra || []).forEach(function (name) {
      es.addEventListener(name, function (ev) {
        var data = {};
        try { data = JSON.parse(ev.data || '{}'); } catch (e) { data = {}; }
        kick(name, data);
      });
    });
  }

  function isTyping(e) {
    var t = e.target;
    return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
  }

  // ---------------------------------------------------------------------------- common

  var logout = $('logout');
  if (logout) {
    logout.addEventListener('click', function () {
      api('DELETE', '/api/v1/session').then(function () { location.href = '/login'; });
    });
  }
  localTimes(document);

  // ---------------------------------------------------------------------------- escalations

  // The header's unread-notifications badge.
  function bumpBadge(delta) {
    var b = $('notif-badge');
    if (!b) { return; }
    var n = Math.max(0, (Number(b.textContent) || 0) + delta);
    b.textContent = String(n);
    b.hidden = n === 0;
  }

  // A toast in the bottom-right corner: the escalation's title and buyer; a click opens the chat.
  function toast(data) {
    var box = $('toasts');
    if (!box) {
      box = document.createElement('div');
      box.id = 'toasts';
      box.setAttribute('aria-live', 'polite');
      document.body.appendChild(box);
    }
    var a = document.createElement('a');
    a.className = 'toast ' + String(data.kind || '').replace(/[^a-z_]/g, '');
    a.href = '/chats/' + encodeURIComponent(String(data.chatId || ''));
    var b = document.createElement('b');
    b.textContent = data.title || 'Новое уведомление';
    a.appendChild(b);
    var who = document.createElement('span');
    who.textContent = 'Покупатель: ' + (data.clientName || 'без имени');
    a.appendChild(who);
    box.appendChild(a);
    setTimeout(function () { a.remove(); }, 8000);
  }

  (function () {
    var es = stream();
    if (!es) { return; }
    es.addEventListener('escalation', function (ev) {
      var data = {};
      try { data = JSON.parse(ev.data || '{}'); } catch (e) { return; }
      bumpBadge(1);
      toast(data);
    });
  })();

  // ---------------------------------------------------------------------------- login

  function initLogin() {
    var form = $('login-form');
    var err = $('login-error');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      err.hidden = true;
      var btn = $('login-submit');
      btn.disabled = true;
      api('POST', '/api/v1/session', { email: $('email').value.trim(), password: $('password').value })
        .then(function (res) {
          btn.disabled = false;
          if (res.status === 200) {
            location.href = form.getAttribute('data-next') || '/inbox';
          } else {
            err.textContent = errorText(res, 'Не удалось войти.');
            err.hidden = false;
          }
        })
        .catch(function () {
          btn.disabled = false;
          err.textContent = 'Сервер недоступен. Проверьте соединение и попробуйте ещё раз.';
          err.hidden = false;
        });
    });
  }

  // ---------------------------------------------------------------------------- inbox

  function initInbox() {
    var list = $('chat-list');
    var search = $('search');
    var selectedId = null;

    function rows() {
      return Array.prototype.filter.call(list.querySelectorAll('li.chat'), function (li) { return !li.hidden; });
    }

    // Narrows the visible rows while typing (the server searches on Enter).
    function applySearch() {
      var q = (search.value || '').trim().toLowerCase();
      Array.prototype.forEach.call(list.querySelectorAll('li.chat'), function (li) {
        li.hidden = q !== '' && (li.getAttribute('data-search') || '').indexOf(q) < 0;
      });
    }

    function select(li) {
      Array.prototype.forEach.call(list.querySelectorAll('li.selected'), function (x) { x.classList.remove('selected'); });
      if (li) {
        li.classList.add('selected');
        selectedId = li.getAttribute('data-id');
        li.scrollIntoView({ block: 'nearest' });
      }
    }

    function move(delta) {
      var r = rows();
      if (!r.length) { return; }
      var i = r.findIndex(function (li) { return li.classList.contains('selected'); });
      i = i < 0 ? 0 : Math.max(0, Math.min(r.length - 1, i + delta));
      select(r[i]);
    }

    function updateTotal() {
      var total = 0;
      Array.prototype.forEach.call(list.querySelectorAll('li.chat'), function (li) {
        total += Number(li.getAttribute('data-unread') || 0);
      });
      var el = $('total-unread');
      if (el) { el.textContent = String(total); }
      document.title = (total > 0 ? '(' + total + ') ' : '') + document.title.replace(/^\(\d+\) /, '');
    }

    function refresh() {
      return reload(list, list.getAttribute('data-src')).then(function () {
        applySearch();
        if (selectedId) { select(list.querySelector('li.chat[data-id="' + selectedId + '"]')); }
        updateTotal();
      });
    }

    search.addEventListener('input', applySearch);
    document.addEventListener('keydown', function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (isTyping(e)) {
        if (e.key === 'Escape') { e.target.blur(); }
        return;
      }
      if (e.key === 'j' || e.key === 'ArrowDown') { move(1); e.preventDefault(); }
      else if (e.key === 'k' || e.key === 'ArrowUp') { move(-1); e.preventDefault(); }
      else if (e.key === 'Enter') {
        var sel = list.querySelector('li.selected');
        if (sel) { location.href = sel.getAttribute('data-href'); e.preventDefault(); }
      } else if (e.key === '/') { search.focus(); e.preventDefault(); }
    });
    applySearch();
    updateTotal();
    live(refresh, ['escalation']);
    // Waiting times are relative: re-render them once a minute even when nothing happens.
    setInterval(refresh, 60000);
  }

  // ---------------------------------------------------------------------------- chat

  // Priority override and snooze (chat page): PUT, then reload to show the new deadline.
  function initTriage() {
    var box = $('triage');
    if (!box) { return; }
    var chat = box.getAttribute('data-chat');
    var status = $('triage-status');
    function done(res) {
      if (res.status === 200) { location.reload(); } else { status.textContent = errorText(res); }
    }
    var sel = $('priority-override');
    if (sel) {
      sel.addEventListener('change', function () {
        api('PUT', '/api/v1/chats/' + chat + '/priority', { priority: sel.value || null }).then(done);
      });
    }
    Array.prototype.forEach.call(box.querySelectorAll('button[data-snooze]'), function (b) {
      b.addEventListener('click', function () {
        var v = b.getAttribute('data-snooze');
        var until = null;
        if (v === 'tomorrow') {
          // 10:00 Moscow time (UTC+3) tomorrow.
          var d = new Date(Date.now() + 3 * 3600000);
          d.setUTCDate(d.getUTCDate() + 1);
          d.setUTCHours(10, 0, 0, 0);
          until = d.getTime() - 3 * 3600000;
        } else if (v) {
          until = Date.now() + Number(v) * 60000;
        }
        api('PUT', '/api/v1/chats/' + chat + '/snooze', { until: until }).then(done);
      });
    });
  }

  function initChat() {
    initTriage();
    var feed = $('feed');
    var form = $('composer');
    var chatId = form.getAttribute('data-chat');
    var max = Number(form.getAttribute('data-max') || 1000);
    var text = $('reply');
    var backdrop = $('reply-backdrop');
    var counter = $('counter');
    var violationsEl = $('violations');
    var files = $('files');
    var fileNames = $('file-names');
    var status = $('send-status');
    var sendBtn = $('send');
    var violations = [];
    var idemKey = null; // one key per draft: a resend of the same draft is not a second reply
    var checkSeq = 0;

    function nearBottom() {
      return window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
    }
    function toBottom() { window.scrollTo(0, document.body.scrollHeight); }

    function markRead() { return api('POST', '/api/v1/chats/' + chatId + '/read'); }

    function refresh() {
      var stick = nearBottom();
      return reload(feed, feed.getAttribute('data-src')).then(function (ok) {
        if (ok && stick) { toBottom(); }
        if (ok && document.visibilityState !== 'hidden') { markRead(); }
      });
    }

    // Highlights the violation spans (UTF-16 offsets, as the API gives them) in the backdrop
    // under the transparent textarea, and lists them with their fragments.
    function paint() {
      var value = text.value;
      while (backdrop.firstChild) { backdrop.removeChild(backdrop.firstChild); }
      var spans = violations.filter(function (v) { return v.file === undefined || v.file === null; })
        .map(function (v) { return [Math.max(0, v.start), Math.min(value.length, v.end)]; })
        .filter(function (s) { return s[1] > s[0]; })
        .sort(function (a, b) { return a[0] - b[0]; });
      var pos = 0;
      spans.forEach(function (s) {
        var start = Math.max(s[0], pos);
        if (s[1] <= start) { return; }
        backdrop.appendChild(document.createTextNode(value.slice(pos, start)));
        var m = document.createElement('mark');
        m.textContent = value.slice(start, s[1]);
        backdrop.appendChild(m);
        pos = s[1];
      });
      backdrop.appendChild(document.createTextNode(value.slice(pos) + '\n'));
      backdrop.scrollTop = text.scrollTop;

      while (violationsEl.firstChild) { violationsEl.removeChild(violationsEl.firstChild); }
      violations.forEach(function (v) {
        var li = document.createElement('li');
        li.setAttribute('data-kind', v.kind || '');
        var frag = (v.file === undefined || v.file === null) ? value.slice(v.start, v.end) : '';
        if (frag) {
          var b = document.createElement('b');
          b.textContent = frag;
          li.appendChild(b);
          li.appendChild(document.createTextNode(' — '));
        }
        li.appendChild(document.createTextNode(v.message || v.kind));
        violationsEl.appendChild(li);
      });
      text.classList.toggle('bad', violations.length > 0);
    }

    function count() {
      var n = Array.from(text.value).length; // Unicode scalar values, as the server counts
      counter.textContent = n + '/' + max;
      counter.classList.toggle('over', n > max);
    }

    var check = debounce(function () {
      var seq = ++checkSeq;
      var value = text.value;
      if (!value.trim()) { violations = []; paint(); return; }
      api('POST', '/api/v1/guardrails/check', { text: value }).then(function (res) {
        if (seq !== checkSeq || value !== text.value) { return; }
        if (res.status === 200 && res.json) {
          violations = res.json.violations || [];
          paint();
        }
      });
    }, 300);

    text.addEventListener('input', function () {
      idemKey = null; // the draft changed: a new reply
      // Keep the old highlights aligned while the check is in flight only if the text still
      // covers them; the next check answer repaints anyway.
      violations = violations.filter(function (v) { return v.end <= text.value.length; });
      paint();
      count();
      check();
    });
    text.addEventListener('scroll', function () { backdrop.scrollTop = text.scrollTop; });

    files.addEventListener('change', function () {
      idemKey = null;
      fileNames.textContent = Array.prototype.map.call(files.files, function (f) { return f.name; }).join(', ');
    });

    function setStatus(state, message) {
      status.setAttribute('data-state', state);
      status.textContent = message;
    }

    var labels = {
      queued: 'В очереди на отправку…', sending: 'Отправляется…', sent: 'Отправлено ✓',
      unknown: 'Ответ WB не получен, проверяем доставку…', failed: 'Не отправлено'
    };

    function showOutbox(o) {
      var msg = labels[o.state] || o.state;
      if (o.state === 'failed' && o.error) { msg += ': ' + o.error; }
      setStatus(o.state, msg);
      status.setAttribute('data-outbox', String(o.id));
      var old = $('status-retry');
      if (old) { old.remove(); }
      if (o.state === 'failed') {
        var b = document.createElement('button');
        b.type = 'button'; b.id = 'status-retry'; b.className = 'retry';
        b.setAttribute('data-retry', String(o.id));
        b.textContent = 'Повторить';
        status.appendChild(document.createTextNode(' '));
        status.appendChild(b);
      }
    }

    // Polls GET /api/v1/outbox/{id} until the reply is sent or failed.
    function follow(id) {
      var tries = 0;
      function tick() {
        api('GET', '/api/v1/outbox/' + id).then(function (res) {
          if (res.status !== 200 || !res.json) { return; }
          if (String(status.getAttribute('data-outbox')) === String(id)) { showOutbox(res.json); }
          if (res.json.state === 'sent' || res.json.state === 'failed') { refresh(); return; }
          tries += 1;
          setTimeout(tick, tries < 30 ? 1000 : 5000);
        }).catch(function () { setTimeout(tick, 3000); });
      }
      tick();
    }

    function retry(id) {
      setStatus('queued', labels.queued);
      status.setAttribute('data-outbox', String(id));
      api('POST', '/api/v1/outbox/' + id + '/retry').then(function (res) {
        if (res.status === 200 && res.json) { showOutbox(res.json); refresh(); follow(id); }
        else { setStatus('failed', errorText(res, 'Не удалось повторить отправку.')); }
      });
    }

    document.addEventListener('click', function (e) {
      var t = e.target;
      if (t && t.getAttribute && t.getAttribute('data-retry')) { retry(t.getAttribute('data-retry')); }
    });

    function send() {
      var value = text.value;
      var hasFiles = files.files && files.files.length > 0;
      if (!value.trim() && !hasFiles) { setStatus('failed', 'Напишите текст или приложите файл.'); return; }
      if (Array.from(value).length > max) { setStatus('failed', 'Слишком длинно: не больше ' + max + ' символов.'); return; }
      if (!idemKey) { idemKey = uuid(); }
      var body;
      if (hasFiles) {
        body = new FormData();
        body.append('text', value);
        Array.prototype.forEach.call(files.files, function (f) { body.append('file', f, f.name); });
      } else {
        body = { text: value };
      }
      sendBtn.disabled = true;
      setStatus('sending', 'Отправляем…');
      api('POST', '/api/v1/chats/' + chatId + '/messages', body, { 'Idempotency-Key': idemKey })
        .then(function (res) {
          sendBtn.disabled = false;
          if ((res.status === 202 || res.status === 200) && res.json) {
            text.value = ''; files.value = ''; fileNames.textContent = '';
            idemKey = null; violations = []; paint(); count();
            showOutbox(res.json);
            refresh().then(toBottom);
            follow(res.json.id);
          } else if (res.status === 422 && res.json && res.json.violations) {
            violations = res.json.violations; paint();
            setStatus('failed', errorText(res, 'Исправьте отмеченные места.'));
          } else {
            setStatus('failed', errorText(res, 'Не удалось отправить.'));
          }
        })
        .catch(function () {
          sendBtn.disabled = false;
          setStatus('failed', 'Нет связи с сервером. Нажмите «Отправить» ещё раз — дубля не будет.');
        });
    }

    form.addEventListener('submit', function (e) { e.preventDefault(); send(); });
    text.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
      if (e.key === 'Escape') { text.blur(); }
    });
    document.addEventListener('keydown', function (e) {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (e.key === 'r') { e.preventDefault(); text.focus(); }
      else if (e.key === 'Escape' || e.key === 'u') { location.href = '/inbox'; }
    });

    count();
    paint();
    toBottom();
    markRead();
    live(refresh);
    // Outbox entries still moving (queued/sending/unknown): keep the feed fresh while they do.
    setInterval(function () {
      if (feed.querySelector('[data-state="queued"],[data-state="sending"],[data-state="unknown"]')) { refresh(); }
    }, 3000);
  }

  // ---------------------------------------------------------------------------- accounts

  function initAccounts() {
    var rows = $('account-rows');
    var form = $('account-form');
    var err = $('account-error');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      err.hidden = true;
      var body = { marketplace: 'wildberries', name: $('account-name').value.trim(), token: $('account-token').value.trim() };
      var url = $('account-url').value.trim();
      if (url) { body.apiBaseUrl = url; }
      if (!body.name || !body.token) {
        err.textContent = 'Укажите название и API-токен.';
        err.hidden = false;
        return;
      }
      var btn = $('account-submit');
      btn.disabled = true;
      btn.textContent = 'Проверяем токен в WB…';
      api('POST', '/api/v1/accounts', body).then(function (res) {
        btn.disabled = false;
        btn.textContent = 'Проверить и подключить';
        if (res.status === 201) {
          form.reset();
          reload(rows, rows.getAttribute('data-src'));
        } else {
          err.textContent = errorText(res, 'Не удалось подключить аккаунт.');
          err.hidden = false;
        }
      }).catch(function () {
        btn.disabled = false;
        btn.textContent = 'Проверить и подключить';
        err.textContent = 'Сервер недоступен. Попробуйте ещё раз.';
        err.hidden = false;
      });
    });
    live(function () { reload(rows, rows.getAttribute('data-src')); });
    setInterval(function () { reload(rows, rows.getAttribute('data-src')); }, 30000);
  }

  // ---------------------------------------------------------------------------- notifications

  function initNotifications() {
    var list = $('notif-rows');
    var btn = $('notif-read-all');
    var err = $('notif-error');
    btn.addEventListener('click', function () {
      var first = list.querySelector('li[data-id]');
      var upTo = Number(first ? first.getAttribute('data-id') : btn.getAttribute('data-up-to'));
      if (!upTo) { return; }
      btn.disabled = true;
      err.hidden = true;
      api('POST', '/api/v1/notifications/read', { upTo: upTo }).then(function (res) {
        if (res.status === 200) { location.reload(); return; }
        btn.disabled = false;
        err.textContent = errorText(res, 'Не удалось отметить уведомления.');
        err.hidden = false;
      }).catch(function () {
        btn.disabled = false;
        err.textContent = 'Сервер недоступен. Попробуйте ещё раз.';
        err.hidden = false;
      });
    });
    var es = stream();
    if (es) {
      es.addEventListener('escalation', debounce(function () {
        reload(list, list.getAttribute('data-src')).then(function () { btn.disabled = false; });
      }, 250));
    }
  }

  // ---------------------------------------------------------------------------- settings

  function initSettings() {
    var form = $('settings-form');
    var err = $('settings-error');
    var ok = $('settings-ok');
    var secret = $('webhook-secret');
    function num(id) { return Number($(id).value); }
    function fail(message) {
      err.textContent = message;
      err.hidden = false;
    }
    form.addEventListener('input', function () { ok.hidden = true; });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      err.hidden = true;
      ok.hidden = true;
      var fields = ['sla-urgent', 'sla-high', 'sla-normal', 'lead'];
      for (var i = 0; i < fields.length; i++) {
        var v = $(fields[i]).value.trim();
        if (!/^\d+$/.test(v)) { $(fields[i]).focus(); fail('Укажите целое число минут.'); return; }
      }
      var body = {
        slaMinutes: { urgent: num('sla-urgent'), high: num('sla-high'), normal: num('sla-normal') },
        escalationLeadMinutes: num('lead'),
        webhookUrl: $('webhook-url').value.trim()
      };
      if (secret.value) { body.webhookSecret = secret.value; }
      var btn = $('settings-submit');
      btn.disabled = true;
      api('PUT', '/api/v1/settings/triage', body).then(function (res) {
        btn.disabled = false;
        if (res.status === 200 && res.json) {
          secret.value = '';
          $('webhook-url').value = res.json.webhookUrl || '';
          $('secret-state').hidden = !res.json.webhookSecretSet;
          ok.hidden = false;
        } else {
          fail(errorText(res, 'Не удалось сохранить настройки.'));
        }
      }).catch(function () {
        btn.disabled = false;
        fail('Сервер недоступен. Попробуйте ещё раз.');
      });
    });
  }

  if (page === 'login') { initLogin(); }
  else if (page === 'inbox') { initInbox(); }
  else if (page === 'chat') { initChat(); }
  else if (page === 'accounts') { initAccounts(); }
  else if (page === 'notifications') { initNotifications(); }
  else if (page === 'settings') { initSettings(); }
})();
