// tutti screen sharing in the browser client.
//
// Every offer carries a second video transceiver, direction sendonly, with
// no track: the server answers it recvonly and binds its SSRCs to this
// participant. Sharing puts the screen's track on it (replaceTrack: no
// renegotiation) and tells the server at once with PATCH {"screen": true}
// on the participant's own URL; stopping (the button, or the browser's
// own "Stop sharing") sends PATCH {"screen": false} and takes the track
// off. Who shares and who may (the room's screen_share) come with the
// layout events: the button shows only to those allowed, a badge tells
// everyone who is sharing. Test hook: window.tutti.screen (sharing, by).
'use strict';

(function () {
  const T = window.tutti;
  if (!T) return;
  const $ = (id) => document.getElementById(id);
  const btn = $('screen-btn');
  const badge = $('screen-badge');
  const canShare = !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  // times: wall-clock stamps of the last start and stop (click, the
  // screen's track in hand, the server told), for tests and diagnostics.
  const S = T.screen = { sharing: false, by: null, policy: 'presenters', track: null, times: {},
                        usable: false };

  function allowed() {
    return canShare && S.usable &&
      (S.policy === 'everyone' || (S.policy === 'presenters' && T.role === 'presenter'));
  }

  function render() {
    btn.hidden = !allowed() && !S.sharing;
    btn.setAttribute('aria-pressed', String(S.sharing));
    btn.textContent = S.sharing ? 'Stop sharing' : 'Share screen';
    const p = S.by && T.roster.find((x) => x.id === S.by);
    badge.hidden = !S.by;
    document.body.classList.toggle('screen-shown', !!S.by);
    badge.textContent = !S.by ? ''
      : S.by === T.participantId ? 'You are sharing your screen'
        : (p ? (p.name || 'Guest') : 'Someone') + ' is sharing a screen';
  }

  // A new peer connection: the screen's transceiver, VP8 first.
  T.onPc.push((pc) => {
    T.screenTx = null;
    if (!canShare) return;
    const tx = pc.addTransceiver('video', { direction: 'sendonly' });
    const caps = window.RTCRtpSender && RTCRtpSender.getCapabilities &&
      RTCRtpSender.getCapabilities('video');
    if (caps && tx.setCodecPreferences) {
      const vp8 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/vp8');
      const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'video/vp8');
      try { tx.setCodecPreferences(vp8.concat(rest)); } catch (e) { /* keep defaults */ }
    }
    T.screenTx = tx;
  });

  // A (re)join: was the screen's m-line accepted (a server that refused it
  // answers it inactive)? A share under way goes on over the new connection.
  T.onJoined.push(async () => {
    S.usable = !!(T.screenTx && T.screenTx.currentDirection === 'sendonly');
    render();
    if (!S.sharing || !S.track || !T.screenTx) return;
    try {
      await T.screenTx.sender.replaceTrack(S.track);
      await T.patchSelf({ screen: true });
    } catch (e) {
      stop(false);
    }
  });

  async function tune(sender) {
    try {
      const p = sender.getParameters();
      if (!p.encodings || !p.encodings.length) p.encodings = [{}];
      p.encodings[0].maxFramerate = 15;
      p.degradationPreference = 'maintain-resolution'; // text stays sharp
      await sender.setParameters(p);
    } catch (e) { /* the defaults work too */ }
  }

  async function start() {
    if (!T.screenTx) { T.caption('This connection cannot share a screen.'); return; }
    S.times = { click: Date.now() };
    let stream;
    try {
      // No bigger than the largest tier (the screen is shown at most
      // 1068x600 there): fewer bits for the same picture, a faster start.
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { width: { max: 1280 }, height: { max: 720 }, frameRate: { max: 15 } },
        audio: false,
      });
    } catch (e) {
      T.caption('Screen sharing was not started (' + (e.name || e.message) + ').');
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    S.times.track = Date.now();
    if ('contentHint' in track) track.contentHint = 'text';
    track.addEventListener('ended', () => { if (S.track === track) stop(true); });
    S.track = track;
    S.sharing = true;
    render();
    try {
      // The media and the server's word at once: the server shows the
      // screen from its first keyframe.
      await Promise.all([
        T.screenTx.sender.replaceTrack(track).then(() => tune(T.screenTx.sender)),
        T.patchSelf({ screen: true }).then(() => { S.times.told = Date.now(); }),
      ]);
    } catch (e) {
      await stop(false);
      T.caption(e.code === 'screen_not_allowed' ? 'You may not share your screen in this room.'
        : e.code === 'screen_busy' ? 'Someone else is sharing a screen.'
          : 'Could not share the screen: ' + (e.message || e));
    }
  }

  // tell: say so to the server (not when it already ended the share).
  async function stop(tell) {
    const track = S.track;
    S.track = null;
    S.sharing = false;
    S.times = { click: Date.now() };
    render();
    // The server first: everyone's composite follows its word, not the
    // end of the media.
    const told = tell ? T.patchSelf({ screen: false }).then(() => { S.times.told = Date.now(); })
      .catch(() => { /* gone */ }) : null;
    if (T.screenTx) { try { await T.screenTx.sender.replaceTrack(null); } catch (e) { /* closed */ } }
    if (track) track.stop();
    await told;
  }

  btn.addEventListener('click', () => { if (S.sharing) stop(true); else start(); });

  T.onLayout.push((l) => {
    if (!l) return;
    if (l.screen_share) S.policy = l.screen_share;
    const by = l.screen || null;
    // The server ended our share (a presenter took over, the room's
    // setting changed): stop sending.
    if (S.sharing && S.by === T.participantId && by !== T.participantId) stop(false);
    S.by = by;
    render();
  });
  T.onRoster.push(render);
  render();
})();
