// tutti presenter controls: shown when the join token's role is presenter.
// Mute all, give the floor to a raised hand, spotlight, layout, lock, end
// the class. Every action is a REST call authenticated with the presenter's
// join token (Authorization: Bearer), see docs/api.md.
'use strict';

(function () {
  const T = window.tutti;
  if (!T || T.role !== 'presenter') return;
  const $ = (id) => document.getElementById(id);
  const panel = $('presenter');
  const msg = $('presenter-msg');
  const layoutSel = $('layout-select');
  const lockBox = $('lock-box');
  panel.hidden = false;
  document.body.classList.add('is-presenter');

  const say = (text) => { msg.textContent = text; };
  const pPath = (id) => T.roomPath() + '/participants/' + encodeURIComponent(id);
  const nameOf = (id) => {
    const p = T.roster.find((x) => x.id === id);
    return p ? (p.name || 'Guest') : 'them';
  };

  async function act(what, fn) {
    try { await fn(); say(what); } catch (e) { say('Failed: ' + (e.message || e)); }
  }

  function button(text, action, label, onclick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small';
    b.textContent = text;
    b.dataset.action = action;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onclick);
    return b;
  }

  // Per-person actions in the roster.
  T.decorateRosterItem = function (li, p, me) {
    if (me) return;
    const who = p.name || 'Guest';
    const box = document.createElement('span');
    box.className = 'pactions';
    if (p.muted) {
      box.appendChild(button(p.hand ? 'Give the floor' : 'Unmute', 'floor',
        (p.hand ? 'Give the floor to ' : 'Unmute ') + who,
        () => act('Gave the floor to ' + who + '.',
                  () => T.api('PATCH', pPath(p.id), { muted: false, hand: false }))));
    } else {
      box.appendChild(button('Mute', 'mute', 'Mute ' + who,
        () => act('Muted ' + who + '.', () => T.api('PATCH', pPath(p.id), { muted: true }))));
    }
    box.appendChild(button(p.spotlight ? 'Unspotlight' : 'Spotlight', 'spot',
      (p.spotlight ? 'End the spotlight on ' : 'Spotlight ') + who,
      () => act((p.spotlight ? 'Spotlight ended.' : 'Spotlight on ' + who + '.'),
                () => T.api('PATCH', pPath(p.id), { spotlight: !p.spotlight }))));
    li.appendChild(box);
  };

  $('mute-all').addEventListener('click', () => act('Everyone else is muted.', async () => {
    const others = T.roster.filter((p) => p.id !== T.participantId && p.role !== 'presenter' && !p.muted);
    await Promise.all(others.map((p) => T.api('PATCH', pPath(p.id), { muted: true })));
  }));

  $('spot-clear').addEventListener('click', () => act('Spotlight ended.', async () => {
    const lit = T.roster.filter((p) => p.spotlight);
    await Promise.all(lit.map((p) => T.api('PATCH', pPath(p.id), { spotlight: false })));
  }));

  layoutSel.addEventListener('change', () => act('Layout: ' + layoutSel.value + '.',
    () => T.api('PATCH', T.roomPath(), { layout: layoutSel.value })));

  lockBox.addEventListener('change', () => act(lockBox.checked ? 'The room is locked.' : 'The room is open again.',
    () => T.api('PATCH', T.roomPath(), { locked: lockBox.checked })));

  const confirmBox = $('end-confirm');
  $('end-class').addEventListener('click', () => { confirmBox.hidden = false; $('end-no').focus(); });
  $('end-no').addEventListener('click', () => { confirmBox.hidden = true; $('end-class').focus(); });
  $('end-yes').addEventListener('click', () => act('Ending the class…', async () => {
    await T.api('DELETE', T.roomPath());
    T.endRoom('You ended the class for everyone.');
  }));

  T.onLayout.push((l) => { if (l && l.kind && document.activeElement !== layoutSel) layoutSel.value = l.kind; });

  // Recording: start and stop; the badge and caption for everyone come
  // from the events stream (tutti.js).
  const recBtn = $('rec-btn');
  const showRec = (on) => {
    recBtn.textContent = on ? 'Stop recording' : 'Start recording';
    recBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
  };
  T.onLayout.push((l) => showRec(!!(l && l.recording)));
  recBtn.addEventListener('click', () => {
    const on = recBtn.getAttribute('aria-pressed') === 'true';
    act(on ? 'Recording stopped.' : 'Recording started.',
        () => T.api(on ? 'DELETE' : 'POST', T.roomPath() + '/recording'));
  });

  // The room's current settings (layout, lock), once we are in.
  let loaded = false;
  T.onRoster.push(() => {
    if (loaded) return;
    loaded = true;
    T.api('GET', T.roomPath()).then((r) => {
      if (r.layout && typeof r.layout === 'string') layoutSel.value = r.layout;
      else if (r.layout && r.layout.kind) layoutSel.value = r.layout.kind;
      lockBox.checked = !!r.locked;
    }).catch(() => { loaded = false; });
  });
})();
