// tutti browser client (minimal): joins the room named in the URL path
// (/r/<room>) with camera and microphone, shows what the server sends back.
// Standard APIs only. The peer connection is exposed as window.tuttiPc.
'use strict';

(function () {
  var statusEl = document.getElementById('status');
  var remoteEl = document.getElementById('remote');
  var localEl = document.getElementById('local');
  var leaveBtn = document.getElementById('leave');
  var unmuteBtn = document.getElementById('unmute');
  var titleEl = document.getElementById('title');

  var pc = null;
  var localStream = null;
  var participantUrl = null;
  var left = false;

  function setStatus(state, detail) {
    statusEl.dataset.state = state;
    statusEl.textContent = detail ? state + ': ' + detail : state;
  }

  function roomFromPath() {
    var m = /^\/r\/([^/]+)\/?$/.exec(location.pathname);
    if (!m) return null;
    var name = decodeURIComponent(m[1]);
    return /^[a-z0-9-]{1,64}$/.test(name) ? name : null;
  }

  async function errorText(res) {
    try {
      var body = await res.json();
      if (body && body.error) return body.error.code + ': ' + body.error.message;
    } catch (e) { /* not JSON */ }
    return 'HTTP ' + res.status;
  }

  function stopLocal() {
    if (localStream) localStream.getTracks().forEach(function (t) { t.stop(); });
    localStream = null;
  }

  async function join(room) {
    setStatus('connecting');
    localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    localEl.srcObject = localStream;

    pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    window.tuttiPc = pc;

    var remoteStream = new MediaStream();
    remoteEl.srcObject = remoteStream;
    pc.ontrack = function (ev) {
      remoteStream.addTrack(ev.track);
      remoteEl.play().catch(function () { /* autoplay policy; muted so normally fine */ });
    };
    pc.onconnectionstatechange = function () {
      if (left) return;
      var s = pc.connectionState;
      if (s === 'connected') setStatus('connected');
      else if (s === 'failed') setStatus('failed', 'media connection lost');
      else if (s === 'disconnected') setStatus('connecting', 'reconnecting');
      else if (s === 'connecting' || s === 'new') setStatus('connecting');
    };

    localStream.getTracks().forEach(function (track) {
      pc.addTransceiver(track, { direction: 'sendrecv', streams: [localStream] });
    });

    var offer = await pc.createOffer();
    await pc.setLocalDescription(offer);

    // The server is ICE-lite and learns our address from our checks, so
    // there is no need to wait for gathering or to trickle candidates.
    var res = await fetch('/api/v1/rooms/' + encodeURIComponent(room) + '/join', {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp
    });
    if (res.status !== 201) throw new Error('join refused (' + await errorText(res) + ')');
    var loc = res.headers.get('Location');
    if (loc) participantUrl = new URL(loc, location.href).href;
    var answer = await res.text();
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    leaveBtn.disabled = false;
  }

  async function leave() {
    if (left) return;
    left = true;
    leaveBtn.disabled = true;
    setStatus('leaving');
    // Tell the server first (WHIP order), then close the media connection.
    if (participantUrl) {
      try {
        await fetch(participantUrl, { method: 'DELETE' });
      } catch (e) { /* server gone: nothing to tell it */ }
    }
    if (pc) pc.close();
    stopLocal();
    remoteEl.srcObject = null;
    setStatus('left');
  }

  leaveBtn.addEventListener('click', leave);

  unmuteBtn.addEventListener('click', function () {
    remoteEl.muted = !remoteEl.muted;
    unmuteBtn.textContent = remoteEl.muted ? 'Unmute speaker' : 'Mute speaker';
  });

  // Leaving the page leaves the room; keepalive lets the request outlive it.
  window.addEventListener('pagehide', function () {
    if (!left && participantUrl) {
      left = true;
      fetch(participantUrl, { method: 'DELETE', keepalive: true }).catch(function () {});
    }
  });

  var room = roomFromPath();
  if (!room) {
    setStatus('failed', 'no valid room name in the address');
    return;
  }
  titleEl.textContent = 'tutti: ' + room;
  document.title = 'tutti: ' + room;
  join(room).catch(function (err) {
    if (pc) pc.close();
    stopLocal();
    setStatus('failed', err && err.message ? err.message : String(err));
  });
})();
