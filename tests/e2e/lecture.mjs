// End-to-end: a lecture. The admin API makes a token room in lecture mode
// and four join links (one presenter, three students); four browsers join.
// Students join muted (server-side); student A raises a hand; the presenter
// sees it in the roster and gives the floor; within 2 s the other students
// hear A's tone. The presenter changes the layout, spotlights A, locks the
// room, then ends the class: every page shows that it ended.
//
//   TUTTI_ADMIN_KEY=... tests/interop/run_with_server.sh build/server/tutti -- node tests/e2e/lecture.mjs

import { makeTest, makeMedia, launch, openPage, waitConnected, statusOf, toneLevels, 
         adminApi, until, sleep, shot } from './lib.mjs';

const t = makeTest('lecture', 90_000);
const ROOM = 'physics-e2e';
// A tone in the mix reads about -20 to -40 dBFS at its bin; codec noise there -60 or less.
const ABS_DB = -50;
const FLOOR_MS = Number(process.env.TUTTI_E2E_FLOOR_MS || 2000);

await t.run(async () => {
  await adminApi(t, 'POST', '/api/v1/rooms', { name: ROOM, mode: 'lecture', access: 'token' });
  const people = [
    { tag: 'prof', role: 'presenter', rgb: [230, 30, 30], freq: 440 },
    { tag: 'sa', role: 'attendee', rgb: [30, 200, 40], freq: 740 },
    { tag: 'sb', role: 'attendee', rgb: [40, 60, 230], freq: 1270 },
    { tag: 'sc', role: 'attendee', rgb: [230, 200, 30], freq: 1630 },
  ];
  for (const p of people) {
    const tok = await adminApi(t, 'POST', `/api/v1/rooms/${ROOM}/tokens`, { name: p.tag, role: p.role });
    const u = new URL(tok.join_url);
    // Two students listen in audio-only mode (as on a weak link): it keeps
    // four browsers within this machine's CPU, and tests that mode too.
    const mode = p.tag === 'sb' || p.tag === 'sc' ? '&mode=audio-only' : '';
    p.url = `${t.base}${u.pathname}${u.search}&autojoin=1${mode}`;
    p.media = makeMedia(t, p.tag, p.rgb, p.freq);
  }
  const [prof, sa, sb, sc] = people;
  const students = [sa, sb, sc];
  await Promise.all(people.map(async (p) => { p.browser = await launch(t, p.media); }));
  await Promise.all(people.map(async (p) => { p.page = await openPage(t, p.browser, p.url, p.tag); }));
  for (const p of people) {
    try { await waitConnected(p.page, 15_000); } catch {
      t.fail(`${p.tag}: not connected within 15 s; status "${await statusOf(p.page)}"`);
      return;
    }
  }
  t.log('all four connected');
  for (const p of people) p.id = await p.page.evaluate(() => window.tutti.participantId);

  // Students are muted by the room, and their page says so.
  for (const s of students) {
    const ok = await until(5000, () => s.page.evaluate(() => !!(window.tutti.me && window.tutti.me.muted)));
    if (!ok) t.fail(`${s.tag}: not muted by the room after joining`);
    const cap = await s.page.locator('#captions').textContent();
    if (!/muted/i.test(cap)) t.fail(`${s.tag}: captions do not say muted: "${cap}"`);
  }
  if (!(await prof.page.locator('#presenter').isVisible())) t.fail('presenter controls are not shown to the presenter');
  if (await sa.page.locator('#presenter').isVisible()) t.fail('presenter controls are shown to a student');

  // The presenter is heard; student A is not (yet).
  const heardBefore = await until(8000, async () => {
    const l = await toneLevels(sb.page, [prof.freq, sa.freq]);
    return l && l.abs[0] >= ABS_DB ? l : null;
  });
  if (!heardBefore) t.fail('student B does not hear the presenter');
  else {
    t.log(`before the floor, B hears: presenter ${heardBefore.abs[0]} dBFS, A ${heardBefore.abs[1]} dBFS`);
    if (heardBefore.abs[1] >= ABS_DB) t.fail('student A is heard before being given the floor');
  }

  // A raises a hand, with the keyboard (h) after focusing the button.
  await sa.page.focus('#hand-btn');
  await sa.page.keyboard.press('Enter');
  const handSel = `#roster li[data-id="${sa.id}"] .badge.hand`;
  try {
    await prof.page.waitForSelector(handSel, { timeout: 5000 });
  } catch { t.fail('the presenter does not see the raised hand within 5 s'); }
  await shot(t, prof.page, 'presenter-controls.png');

  // Give the floor; A's tone must reach B and C within 2 s.
  const tFloor = Date.now();
  await prof.page.click(`#roster li[data-id="${sa.id}"] button[data-action="floor"]`);
  const mixed = until(FLOOR_MS + 3000, () => sb.page.evaluate((id) => {
    const p = window.tutti.roster.find((x) => x.id === id);
    return p && !p.muted && p.audio_mixed;
  }, sa.id).then((v) => v && Date.now() - tFloor), 50);
  const heard = await Promise.all([sb, sc].map(async (s) => {
    const r = await until(FLOOR_MS + 1000, async () => {
      const l = await toneLevels(s.page, [sa.freq], 100);
      if (l) s.lastA = l.abs[0];
      return l && l.abs[0] >= ABS_DB ? { ms: Date.now() - tFloor, db: l.abs[0] } : null;
    }, 50);
    return { s, r };
  }));
  const mixedMs = await mixed;
  t.log(`the roster (server) says A is unmuted and mixed ${mixedMs === null ? 'never' : mixedMs + ' ms'} after the click`);
  for (const { s, r } of heard) {
    if (!r) t.fail(`${s.tag}: does not hear student A after the floor was given (last ${s.lastA} dBFS)`);
    else if (r.ms > FLOOR_MS) t.fail(`${s.tag}: heard student A only ${r.ms} ms after the floor was given (limit ${FLOOR_MS})`);
    else t.log(`${s.tag}: hears student A ${r.ms} ms after the floor was given (${r.db} dBFS)`);
  }
  const capA = await until(3000, async () => {
    const c = await sa.page.locator('#captions').textContent();
    return /floor|microphone is on/i.test(c) ? c : null;
  });
  if (!capA) t.fail('student A\'s page does not say that it has the floor');
  await shot(t, sa.page, 'room-lecture-student.png');

  // Layout, spotlight, lock.
  await prof.page.selectOption('#layout-select', 'grid');
  const lay = await until(5000, () => sb.page.evaluate(() => window.tutti.layout && window.tutti.layout.kind === 'grid'));
  if (!lay) t.fail('layout change to grid did not reach a student within 5 s');
  await prof.page.click(`#roster li[data-id="${sa.id}"] button[data-action="spot"]`);
  const spot = await until(5000, () => sb.page.evaluate((id) => (window.tutti.roster.find((p) => p.id === id) || {}).spotlight, sa.id));
  if (!spot) t.fail('spotlight on student A did not reach a student within 5 s');
  await prof.page.check('#lock-box');
  const room = await until(3000, async () => {
    const r = await adminApi(t, 'GET', `/api/v1/rooms/${ROOM}`);
    return r.locked ? r : null;
  });
  if (!room) t.fail('locking from the presenter page did not lock the room');
  await sleep(800);
  await shot(t, prof.page, 'room-lecture-presenter.png');

  // End the class (with its confirmation step).
  await prof.page.click('#end-class');
  await prof.page.click('#end-yes');
  for (const p of people) {
    try {
      await p.page.waitForFunction(() => document.getElementById('status').dataset.state === 'ended' &&
                                         !document.getElementById('ended').hidden, null, { timeout: 5000 });
    } catch { t.fail(`${p.tag}: does not show that the class ended; status "${await statusOf(p.page)}"`); }
  }
  await shot(t, sb.page, 'class-ended.png');
  t.log('every page shows that the class ended');
});
