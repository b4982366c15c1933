// tutti browser client: the page at /r/<room>.
//
// Lobby: name, camera and microphone (with a preview), data mode; the join
// token comes from ?token= (its payload says the name and the role).
// Room: the composite video and mixed audio from the server, a roster from
// the events stream, mic / camera / hand / data-mode controls, a connection
// panel, a poor-link warning, and reconnection with backoff. Presenter
// controls live in presenter.js.
//
// Standard APIs only, no framework, no build step. Test hooks: the peer
// connection is window.tuttiPc; #status carries data-state (idle, preview,
// connecting, connected, reconnecting, failed, left, ended); window.tutti
// holds the client's state (participantId, role, roster, ...). Screen
// sharing lives in screen.js (a second video transceiver, sendonly).
//
// URL parameters: ?token=JWT, ?name=, ?mode=auto|low|audio-only,
// ?autojoin=1 (join without waiting for the button).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  const el = {
    status: $('status'), title: $('title'), banner: $('banner'), bannerText: $('banner-text'),
    bannerAudio: $('banner-audio'), bannerRetry: $('banner-retry'),
    lobby: $('lobby'), preview: $('preview'), previewNote: $('preview-note'),
    form: $('join-form'), name: $('name'), cam: $('cam'), mic: $('mic'), join: $('join'),
    tokenNote: $('token-note'),
    room: $('room'), remote: $('remote'), remoteAudio: $('remote-audio'), local: $('local'),
    stageNote: $('stage-note'), captions: $('captions'),
    micBtn: $('mic-btn'), camBtn: $('cam-btn'), handBtn: $('hand-btn'),
    modeSelect: $('mode-select'), unmute: $('unmute'), leave: $('leave'),
    roster: $('roster'), rosterCount: $('roster-count'),
    ended: $('ended'), endedText: $('ended-text'),
  };

  // ---- state ---------------------------------------------------------------
  const T = window.tutti = {
    room: null, token: params.get('token') || null, claims: null, role: 'participant',
    name: '', dataMode: 'auto', participantId: null, participantUrl: null,
    roster: [], me: null, layout: null, state: 'idle',
    selfMicOff: false, selfCamOff: false, hand: false,
    attempt: 0, // reconnect attempts since the last good connection
    // Hooks for presenter.js.
    onRoster: [], onLayout: [], decorateRosterItem: null,
    api: null, setStatus: null, caption: null,
    // Hooks for screen.js: a new peer connection (before the offer), a
    // join that got its answer; patchSelf changes this participant.
    onPc: [], onJoined: [], patchSelf: null, screenTx: null,
  };

  let pc = null;
  let localStream = null;
  let events = null;
  let left = false;
  let retryTimer = null;
  let discTimer = null;
  let connectTimer = null;
  let statsTimer = null;
  let generation = 0; // bumps on every (re)join; stale callbacks check it

  function setStatus(state, text) {
    T.state = state;
    el.status.dataset.state = state;
    el.status.textContent = text || state;
  }
  T.setStatus = setStatus;

  function caption(text) { el.captions.textContent = text; }
  T.caption = caption;

  function banner(text, opts) {
    opts = opts || {};
    if (!text) { el.banner.hidden = true; el.banner.dataset.kind = ''; return; }
    el.banner.hidden = false;
    el.banner.dataset.kind = opts.kind || '';
    el.bannerText.textContent = text;
    el.bannerAudio.hidden = !opts.audioOnly;
    el.bannerRetry.hidden = !opts.retry;
  }

  function roomFromPath() {
    const m = /^\/r\/([^/]+)\/?$/.exec(location.pathname);
    if (!m) return null;
    const name = decodeURIComponent(m[1]);
    return /^[a-z0-9-]{1,64}$/.test(name) ? name : null;
  }

  // The token's payload, unverified (the server verifies it).
  function decodeJwt(tok) {
    try {
      const part = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bin = atob(part + '='.repeat((4 - part.length % 4) % 4));
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) { return null; }
  }

  async function errorOf(res) {
    try {
      const body = await res.json();
      if (body && body.error) return { code: body.error.code, message: body.error.message };
    } catch (e) { /* not JSON */ }
    return { code: 'http_' + res.status, message: 'HTTP ' + res.status };
  }

  // fetch with the join token (presenter actions, joins) and JSON bodies.
  async function api(method, path, body, auth) {
    const headers = {};
    if (auth !== false && T.token) headers.Authorization = 'Bearer ' + T.token;
    const init = { method: method, headers: headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (!res.ok) {
      const e = await errorOf(res);
      const err = new Error(e.message);
      err.code = e.code; err.status = res.status;
      throw err;
    }
    return res.status === 204 ? null : res.json();
  }
  T.api = api;
  T.roomPath = () => '/api/v1/rooms/' + encodeURIComponent(T.room);

  // ---- lobby: devices and preview -----------------------------------------
  async function openMedia() {
    const camId = el.cam.value, micId = el.mic.value;
    const video = camId ? { deviceId: { exact: camId } } : true;
    const audio = micId ? { deviceId: { exact: micId } } : true;
    const c = {
      audio: Object.assign(audio === true ? {} : audio, { echoCancellation: true, noiseSuppression: true }),
      video: Object.assign(video === true ? {} : video, { width: { ideal: 640 }, height: { ideal: 360 },
                                                         frameRate: { ideal: 15, max: 30 } }),
    };
    try {
      return await navigator.mediaDevices.getUserMedia(c);
    } catch (e) {
      // No camera (or refused): try audio alone.
      el.previewNote.textContent = 'Camera unavailable (' + e.name + '); joining with sound only.';
      return navigator.mediaDevices.getUserMedia({ audio: c.audio });
    }
  }

  async function fillDevices() {
    const list = await navigator.mediaDevices.enumerateDevices();
    const fill = (sel, kind, label) => {
      const cur = sel.value;
      sel.textContent = '';
      list.filter((d) => d.kind === kind).forEach((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.label || label + ' ' + (i + 1);
        sel.appendChild(o);
      });
      if (cur) sel.value = cur;
    };
    fill(el.cam, 'videoinput', 'Camera');
    fill(el.mic, 'audioinput', 'Microphone');
  }

  function stopLocal() {
    if (localStream) localStream.getTracks().forEach((t) => t.stop());
    localStream = null;
  }

  async function startPreview() {
    stopLocal();
    localStream = await openMedia();
    el.preview.srcObject = localStream;
    const v = localStream.getVideoTracks()[0];
    if (v) el.previewNote.textContent = 'Camera: ' + (v.label || 'on');
  }

  // ---- joining -------------------------------------------------------------
  function senderOf(kind) {
    // The camera's, never the shared screen's (screen.js).
    const screen = T.screenTx ? T.screenTx.sender : null;
    return pc ? pc.getSenders().find((s) => s !== screen && s.track && s.track.kind === kind) ||
                pc.getTransceivers().find((t) => t.sender !== screen &&
                                                 t.receiver.track.kind === kind)?.sender : null;
  }

  // What we send follows the data mode: low = a small, slow picture;
  // audio-only = no picture sent either (a poor link is poor both ways).
  async function applySendLimits() {
    const s = senderOf('video');
    if (!s) return;
    try {
      const p = s.getParameters();
      if (!p.encodings || !p.encodings.length) p.encodings = [{}];
      const e = p.encodings[0];
      e.active = T.dataMode !== 'audio-only';
      if (T.dataMode === 'low') { e.maxBitrate = 120000; e.maxFramerate = 10; }
      else { delete e.maxBitrate; delete e.maxFramerate; }
      await s.setParameters(p);
    } catch (e) { /* not fatal: the server still honours the data cap */ }
  }

  function buildPc() {
    const my = generation;
    pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    window.tuttiPc = pc;
    const remoteStream = new MediaStream();
    el.remote.srcObject = remoteStream;
    const audioStream = new MediaStream();
    el.remoteAudio.srcObject = audioStream;
    pc.ontrack = (ev) => {
      if (ev.track.kind === 'video') remoteStream.addTrack(ev.track);
      else audioStream.addTrack(ev.track);
      el.remote.play().catch(() => {});
      el.remoteAudio.play().then(() => { el.unmute.hidden = true; })
        .catch(() => { el.unmute.hidden = false; });
    };
    pc.onconnectionstatechange = () => {
      if (my !== generation || left || T.state === 'ended') return;
      const s = pc.connectionState;
      if (s === 'connected') {
        clearTimeout(discTimer); clearTimeout(connectTimer);
        T.attempt = 0;
        setStatus('connected', 'Connected');
        banner(null);
      } else if (s === 'disconnected') {
        setStatus('reconnecting', 'Connection interrupted, waiting for it to come back…');
        clearTimeout(discTimer);
        discTimer = setTimeout(() => reconnect('the connection was lost'), 4000);
      } else if (s === 'failed') {
        reconnect('the connection failed');
      }
    };
    localStream.getTracks().forEach((track) => {
      pc.addTransceiver(track, { direction: 'sendrecv', streams: [localStream] });
    });
    // Prefer VP8 and Opus (the server takes nothing else anyway).
    if (window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities) {
      pc.getTransceivers().forEach((t) => {
        const kind = t.sender.track && t.sender.track.kind;
        const caps = RTCRtpReceiver.getCapabilities(kind);
        if (!caps || !t.setCodecPreferences) return;
        const want = kind === 'video' ? 'video/vp8' : 'audio/opus';
        const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === want);
        const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== want);
        try { t.setCodecPreferences(first.concat(rest)); } catch (e) { /* keep defaults */ }
      });
    }
    T.onPc.forEach((f) => f(pc));
  }

  function closePc() {
    if (pc) { pc.onconnectionstatechange = null; pc.ontrack = null; pc.close(); }
    pc = null;
  }

  // One join attempt. Throws { final: true } for answers that a retry
  // cannot change (no such room, bad token, locked...).
  async function joinOnce() {
    generation++;
    closePc();
    buildPc();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const headers = { 'Content-Type': 'application/sdp' };
    if (T.token) headers.Authorization = 'Bearer ' + T.token;
    const q = T.name ? '?name=' + encodeURIComponent(T.name) : '';
    // The server is ICE-lite and learns our address from our checks: no
    // need to wait for gathering or to trickle candidates.
    let res;
    try {
      res = await fetch(T.roomPath() + '/join' + q,
                        { method: 'POST', headers: headers, body: pc.localDescription.sdp });
    } catch (e) {
      throw Object.assign(new Error('the server cannot be reached'), { final: false });
    }
    if (res.status !== 201) {
      const e = await errorOf(res);
      const retry = res.status >= 500 && e.code !== 'room_full' ? true : e.code === 'room_full';
      const err = new Error(explain(e));
      err.code = e.code; err.final = !retry;
      throw err;
    }
    const loc = res.headers.get('Location');
    T.participantUrl = loc ? new URL(loc, location.href).href : null;
    // The URL ends in /participants/<id>?s=<secret>: the id is public, the
    // secret is what lets this page act on itself.
    T.participantId = loc ? new URL(loc, location.href).pathname.split('/').pop() : null;
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    await applySendLimits();
    T.onJoined.forEach((f) => f(pc));
    if (T.dataMode !== 'auto') patchSelf({ data_cap: T.dataMode }).catch(() => {});
    if (T.hand) patchSelf({ hand: true }).catch(() => {});
    el.leave.disabled = false;
    const my = generation;
    clearTimeout(connectTimer);
    connectTimer = setTimeout(() => {
      if (my === generation && pc && pc.connectionState !== 'connected')
        reconnect('the media connection did not come up');
    }, 15000);
  }

  function explain(e) {
    switch (e.code) {
      case 'room_not_found': return 'This room does not exist (any more).';
      case 'token_required': return 'This room needs an invitation link (a join token).';
      case 'token_expired': return 'Your invitation link has expired. Ask for a new one.';
      case 'bad_token': return 'Your invitation link is not valid.';
      case 'wrong_room': return 'Your invitation link is for another room.';
      case 'room_locked': return 'The room is locked: nobody new can join now.';
      case 'room_full': return 'The room is full.';
      case 'draining': return 'The server is restarting.';
      default: return e.message || e.code;
    }
  }

  async function connect() {
    if (left || T.state === 'ended') return;
    setStatus(T.attempt ? 'reconnecting' : 'connecting',
              T.attempt ? 'Reconnecting (attempt ' + (T.attempt + 1) + ')…' : 'Connecting…');
    try {
      await joinOnce();
    } catch (err) {
      if (left || T.state === 'ended') return;
      if (err.code === 'room_not_found' && T.participantId) { endRoom('The room was closed.'); return; }
      if (err.final === true || (err.final === undefined && !T.participantId)) {
        closePc();
        setStatus('failed', 'Cannot join: ' + err.message);
        banner('Cannot join: ' + err.message, { kind: 'error' });
        return;
      }
      scheduleRetry(err.message);
    }
  }

  function scheduleRetry(why) {
    if (left || T.state === 'ended') return;
    clearTimeout(retryTimer);
    const delay = Math.min(15000, 1000 * Math.pow(2, T.attempt)) * (0.8 + Math.random() * 0.4);
    T.attempt++;
    const secs = Math.round(delay / 1000);
    setStatus('reconnecting', 'Connection lost (' + why + '). Reconnecting in ' + secs + ' s…');
    banner('Connection lost: ' + why + '. Reconnecting in ' + secs + ' s (attempt ' + T.attempt + ').',
           { kind: 'warn', retry: true });
    retryTimer = setTimeout(connect, delay);
  }

  function reconnect(why) {
    if (left || T.state === 'ended') return;
    clearTimeout(discTimer); clearTimeout(connectTimer);
    generation++;
    // Tell the server the old session is gone (it may not know yet).
    const old = T.participantUrl;
    if (old) fetch(old, { method: 'DELETE' }).catch(() => {});
    closePc();
    scheduleRetry(why);
  }

  el.bannerRetry.addEventListener('click', () => {
    clearTimeout(retryTimer);
    connect();
  });

  async function patchSelf(body) {
    if (!T.participantUrl) throw new Error('not joined');
    const res = await fetch(T.participantUrl, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!res.ok) {
      const e = await errorOf(res);
      throw Object.assign(new Error(explain(e)), { code: e.code, status: res.status });
    }
    return res.json();
  }
  T.patchSelf = patchSelf;

  // ---- events stream -------------------------------------------------------
  function openEvents() {
    if (events) return;
    const q = T.token ? '?token=' + encodeURIComponent(T.token) : '';
    events = new EventSource(T.roomPath() + '/events' + q);
    events.addEventListener('roster', (ev) => {
      try { T.roster = JSON.parse(ev.data).participants || []; } catch (e) { return; }
      renderRoster();
      T.onRoster.forEach((f) => f(T.roster));
    });
    events.addEventListener('layout', (ev) => {
      try { T.layout = JSON.parse(ev.data); } catch (e) { return; }
      // Everyone sees that the room is being recorded.
      const rec = !!(T.layout && T.layout.recording);
      if (rec !== T.recording) {
        T.recording = rec;
        const b = document.getElementById('rec-badge');
        if (b) b.hidden = !rec;
        updateCaption();
      }
      T.onLayout.forEach((f) => f(T.layout));
    });
    events.addEventListener('ended', () => endRoom());
  }

  function endRoom(text) {
    if (T.state === 'ended') return;
    left = true;
    clearTimeout(retryTimer); clearTimeout(discTimer); clearTimeout(connectTimer);
    clearInterval(statsTimer);
    generation++;
    if (events) { events.close(); events = null; }
    closePc();
    stopLocal();
    el.room.hidden = true;
    el.lobby.hidden = true;
    el.ended.hidden = false;
    const what = T.role === 'attendee' || T.role === 'presenter' ? 'class' : 'meeting';
    $('ended-h').textContent = 'The ' + what + ' has ended';
    el.endedText.textContent = text || ('The ' + what + ' was ended for everyone. You can close this page.');
    banner(null);
    setStatus('ended', 'The ' + what + ' has ended');
    $('ended-h').tabIndex = -1;
    $('ended-h').focus();
  }
  T.endRoom = endRoom;

  // ---- roster --------------------------------------------------------------
  function badge(text, cls, label) {
    const s = document.createElement('span');
    s.className = 'badge ' + cls;
    s.textContent = text;
    if (label) { s.setAttribute('aria-label', label); s.title = label; }
    return s;
  }

  function renderRoster() {
    const focused = document.activeElement;
    const refocus = focused && focused.dataset && focused.dataset.action && el.roster.contains(focused)
      ? { id: focused.closest('li').dataset.id, action: focused.dataset.action } : null;
    el.roster.textContent = '';
    T.me = null;
    T.roster.forEach((p) => {
      const me = p.id === T.participantId;
      if (me) T.me = p;
      const li = document.createElement('li');
      li.dataset.id = p.id;
      li.className = (p.speaking ? 'speaking ' : '') + (me ? 'me' : '');
      const name = document.createElement('span');
      name.className = 'pname';
      name.textContent = (p.name || 'Guest') + (me ? ' (you)' : '');
      li.appendChild(name);
      if (p.role === 'presenter') li.appendChild(badge('presenter', 'role'));
      if (p.speaking) li.appendChild(badge('speaking', 'speak'));
      if (p.hand) li.appendChild(badge('✋ hand raised', 'hand'));
      if (p.muted) li.appendChild(badge('muted', 'muted'));
      if (p.spotlight) li.appendChild(badge('spotlight', 'spot'));
      if (p.data_cap && p.data_cap !== 'auto') li.appendChild(badge(p.data_cap, 'cap'));
      if (!p.connected) li.appendChild(badge('connecting', 'conn'));
      if (T.decorateRosterItem) T.decorateRosterItem(li, p, me);
      el.roster.appendChild(li);
    });
    el.rosterCount.textContent = '(' + T.roster.length + ')';
    if (refocus) {
      const b = el.roster.querySelector('li[data-id="' + refocus.id + '"] [data-action="' + refocus.action + '"]');
      if (b) b.focus();
    }
    if (T.me) {
      T.hand = T.me.hand;
      updateHandBtn();
      $('c-tier').textContent = T.me.video_tier + (T.me.video_visible ? ' (your video is shown)' : '');
      $('c-cap').textContent = T.me.data_cap;
      $('c-mixed').textContent = T.me.muted ? 'muted by the room' : (T.me.audio_mixed ? 'heard now' : 'not speaking');
    }
    updateCaption();
  }

  // ---- controls ------------------------------------------------------------
  function updateCaption() {
    const parts = [];
    const serverMuted = T.me && T.me.muted;
    if (serverMuted) parts.push(T.hand ? 'You are muted by the presenter; your hand is raised.'
                                       : 'You are muted by the presenter. Raise your hand to ask to speak.');
    else if (T.selfMicOff) parts.push('You are muted.');
    else parts.push(T.me && T.me.role === 'attendee' ? 'You have the floor: your microphone is on.'
                                                      : 'Your microphone is on.');
    if (T.selfCamOff) parts.push('Your camera is off.');
    if (T.dataMode === 'audio-only') parts.push('Audio only: no video is sent or received.');
    else if (T.dataMode === 'low') parts.push('Low data mode.');
    if (T.recording) parts.push('This room is being recorded.');
    caption(parts.join(' '));
  }

  function updateHandBtn() {
    el.handBtn.setAttribute('aria-pressed', String(!!T.hand));
    el.handBtn.textContent = T.hand ? 'Lower hand' : 'Raise hand';
  }

  el.micBtn.addEventListener('click', () => {
    T.selfMicOff = !T.selfMicOff;
    if (localStream) localStream.getAudioTracks().forEach((t) => { t.enabled = !T.selfMicOff; });
    el.micBtn.setAttribute('aria-pressed', String(T.selfMicOff));
    el.micBtn.textContent = T.selfMicOff ? 'Unmute microphone' : 'Mute microphone';
    updateCaption();
  });

  el.camBtn.addEventListener('click', () => {
    T.selfCamOff = !T.selfCamOff;
    if (localStream) localStream.getVideoTracks().forEach((t) => { t.enabled = !T.selfCamOff; });
    el.camBtn.setAttribute('aria-pressed', String(T.selfCamOff));
    el.camBtn.textContent = T.selfCamOff ? 'Turn camera on' : 'Turn camera off';
    updateCaption();
  });

  el.handBtn.addEventListener('click', async () => {
    const want = !T.hand;
    T.hand = want;
    updateHandBtn();
    updateCaption();
    try { await patchSelf({ hand: want }); } catch (e) { caption('Could not change your hand: ' + e.message); }
  });

  async function setDataMode(mode) {
    T.dataMode = mode;
    el.modeSelect.value = mode;
    el.stageNote.hidden = mode !== 'audio-only';
    el.stageNote.textContent = 'Audio only: video is paused to save data.';
    updateCaption();
    await applySendLimits();
    if (T.participantUrl) {
      try { await patchSelf({ data_cap: mode }); } catch (e) { caption('Could not change the data mode: ' + e.message); }
    }
    if (mode === 'audio-only' && el.banner.dataset.kind === 'poor') banner(null);
  }
  T.setDataMode = setDataMode;
  el.modeSelect.addEventListener('change', () => setDataMode(el.modeSelect.value));
  el.bannerAudio.addEventListener('click', () => setDataMode('audio-only'));

  el.unmute.addEventListener('click', () => {
    el.remoteAudio.play().then(() => { el.unmute.hidden = true; }).catch(() => {});
  });

  async function leave() {
    if (left) return;
    left = true;
    el.leave.disabled = true;
    clearTimeout(retryTimer); clearTimeout(discTimer); clearTimeout(connectTimer);
    clearInterval(statsTimer);
    generation++;
    setStatus('leaving', 'Leaving…');
    // Tell the server first (WHIP order), then close the media connection.
    if (T.participantUrl) {
      try { await fetch(T.participantUrl, { method: 'DELETE' }); } catch (e) { /* server gone */ }
    }
    if (events) { events.close(); events = null; }
    closePc();
    stopLocal();
    el.remote.srcObject = null;
    el.remoteAudio.srcObject = null;
    banner(null);
    caption('You left the room.');
    setStatus('left', 'You left the room');
  }
  el.leave.addEventListener('click', leave);

  // Leaving the page leaves the room; keepalive lets the request outlive it.
  window.addEventListener('pagehide', () => {
    if (!left && T.participantUrl) {
      left = true;
      fetch(T.participantUrl, { method: 'DELETE', keepalive: true }).catch(() => {});
    }
  });

  // Keyboard shortcuts (when not typing): m mic, v camera, h hand.
  document.addEventListener('keydown', (ev) => {
    if (el.room.hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
    const map = { m: el.micBtn, v: el.camBtn, h: el.handBtn };
    const b = map[ev.key];
    if (b) { ev.preventDefault(); b.click(); }
  });

  // ---- connection figures --------------------------------------------------
  const history = [];
  const fmtRate = (bps) => bps >= 1e6 ? (bps / 1e6).toFixed(2) + ' Mbit/s' : Math.round(bps / 1e3) + ' kbit/s';
  let poorSince = 0, goodSince = 0;

  async function pollStats() {
    const pc0 = pc;
    if (!pc0 || pc0.connectionState === 'closed') return;
    let r;
    try { r = await pc0.getStats(); } catch (e) { return; }
    if (pc0 !== pc) return;
    const s = { t: performance.now(), inBytes: 0, outBytes: 0, lost: 0, recv: 0, rtt: null, video: null, vBytes: 0 };
    r.forEach((x) => {
      if (x.type === 'inbound-rtp') {
        s.inBytes += x.bytesReceived || 0; s.lost += x.packetsLost || 0; s.recv += x.packetsReceived || 0;
        if (x.kind === 'video') { s.video = x; s.vBytes = x.bytesReceived || 0; }
      } else if (x.type === 'outbound-rtp') {
        s.outBytes += x.bytesSent || 0;
      } else if (x.type === 'candidate-pair' && x.nominated && x.state === 'succeeded' &&
                 typeof x.currentRoundTripTime === 'number') {
        s.rtt = x.currentRoundTripTime;
      }
    });
    history.push(s);
    while (history.length > 6) history.shift();
    const a = history[0];
    const dt = (s.t - a.t) / 1000;
    $('c-state').textContent = pc.connectionState + (T.attempt ? ' (reconnect ' + T.attempt + ')' : '');
    if (dt <= 0) return;
    const inRate = Math.max(0, (s.inBytes - a.inBytes) * 8 / dt);
    const outRate = Math.max(0, (s.outBytes - a.outBytes) * 8 / dt);
    const dl = s.lost - a.lost, dr = s.recv - a.recv;
    const loss = dl + dr > 0 ? Math.max(0, dl) / (dl + dr) : 0;
    $('c-in').textContent = fmtRate(inRate);
    $('c-out').textContent = fmtRate(outRate);
    $('c-loss').textContent = (loss * 100).toFixed(1) + ' %';
    $('c-rtt').textContent = s.rtt === null ? '–' : Math.round(s.rtt * 1000) + ' ms';
    $('c-video').textContent = s.video && s.video.frameWidth
      ? s.video.frameWidth + '×' + s.video.frameHeight + (s.video.framesPerSecond ? ' @ ' + Math.round(s.video.framesPerSecond) + ' fps' : '')
      : (T.dataMode === 'audio-only' ? 'none (audio only)' : '–');
    T.lastStats = { inRate: inRate, outRate: outRate, loss: loss, rtt: s.rtt };

    // A poor link: much loss or a long round trip, for a few seconds.
    if (pc.connectionState !== 'connected') return;
    const poor = loss > 0.08 || (s.rtt !== null && s.rtt > 0.8);
    const now = Date.now();
    if (poor) { goodSince = 0; poorSince = poorSince || now; } else { poorSince = 0; goodSince = goodSince || now; }
    if (poorSince && now - poorSince > 3000 && T.dataMode !== 'audio-only' && el.banner.hidden) {
      banner('Your connection is poor (' + Math.round(loss * 100) + ' % loss' +
             (s.rtt !== null ? ', ' + Math.round(s.rtt * 1000) + ' ms round trip' : '') +
             '). Audio only would keep the sound going.', { kind: 'poor', audioOnly: true });
    } else if (goodSince && now - goodSince > 10000 && el.banner.dataset.kind === 'poor') {
      banner(null);
    }
  }

  // ---- start ---------------------------------------------------------------
  async function enterRoom() {
    T.name = el.name.value.trim().slice(0, 64);
    const m = el.form.querySelector('input[name="mode"]:checked');
    T.dataMode = m ? m.value : 'auto';
    if (!localStream) await startPreview();
    el.lobby.hidden = true;
    el.room.hidden = false;
    el.local.srcObject = localStream;
    el.modeSelect.value = T.dataMode;
    el.stageNote.hidden = T.dataMode !== 'audio-only';
    el.stageNote.textContent = 'Audio only: video is paused to save data.';
    el.handBtn.hidden = T.role === 'presenter';
    document.body.classList.add('in-room');
    updateCaption();
    statsTimer = setInterval(pollStats, 1000);
    await connect();
    if (!left && T.state !== 'failed') openEvents();
  }

  async function main() {
    T.room = roomFromPath();
    if (!T.room) { setStatus('failed', 'No valid room name in the address'); return; }
    el.title.textContent = 'tutti: ' + T.room;
    document.title = 'tutti: ' + T.room;
    if (T.token) {
      T.claims = decodeJwt(T.token);
      if (T.claims) {
        T.role = T.claims.role || 'attendee';
        if (T.claims.name) { el.name.value = T.claims.name; el.name.readOnly = true; }
        el.tokenNote.textContent = 'Invited as ' + (T.claims.name || 'guest') + ' (' + T.role + ')' +
          (T.claims.exp ? ', link valid until ' + new Date(T.claims.exp * 1000).toLocaleString() : '') + '.';
        if (T.claims.exp && T.claims.exp * 1000 < Date.now())
          el.tokenNote.textContent += ' This link has expired: ask for a new one.';
      } else {
        el.tokenNote.textContent = 'The invitation link looks damaged.';
      }
    }
    if (params.get('name') && !el.name.readOnly) el.name.value = params.get('name');
    if (!el.name.value) el.name.value = localStorage.getItem('tutti.name') || '';
    const mode = params.get('mode');
    if (mode && /^(auto|low|audio-only)$/.test(mode)) {
      const r = el.form.querySelector('input[name="mode"][value="' + mode + '"]');
      if (r) r.checked = true;
    }
    setStatus('preview', 'Check your camera and microphone, then join');

    el.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!el.name.value.trim()) {
        el.name.setAttribute('aria-invalid', 'true');
        el.name.focus();
        setStatus('preview', 'Please enter your name');
        return;
      }
      try { localStorage.setItem('tutti.name', el.name.value.trim()); } catch (e) { /* private mode */ }
      el.join.disabled = true;
      enterRoom().catch((e) => setStatus('failed', 'Cannot join: ' + (e.message || e)));
    });
    const change = () => startPreview().catch((e) => { el.previewNote.textContent = 'Cannot open the device: ' + e.message; });
    el.cam.addEventListener('change', change);
    el.mic.addEventListener('change', change);

    try {
      await startPreview();
      await fillDevices();
    } catch (e) {
      el.previewNote.textContent = 'No camera or microphone (' + (e.name || e.message) + ').';
      setStatus('failed', 'Cannot use the camera or microphone: ' + (e.message || e.name));
      return;
    }
    if (params.get('autojoin') === '1') {
      if (!el.name.value) el.name.value = 'Guest';
      el.join.disabled = true;
      enterRoom().catch((e) => setStatus('failed', 'Cannot join: ' + (e.message || e)));
    } else {
      el.name.focus();
    }
  }

  main();
})();
