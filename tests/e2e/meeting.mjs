// End-to-end: three browsers (one Chromium each, a solid-colour camera and a
// sine-tone microphone each) join the open room `demo`. Within 15 s each
// page shows the composite with the other two colours in it, and hears the
// other two tones but not its own (the server's N-1 mix): over 1 s of the
// received audio, each other tone at least 20 dB above the noise floor
// (measured away from the tones), its own at least 30 dB below the
// strongest tone received (see audioTap in lib.mjs). One participant
// goes through the join page (name, Join button), the others use ?autojoin.
// Saves screenshots of the join page and the room.
//
//   tests/interop/run_with_server.sh build/server/tutti -- node tests/e2e/meeting.mjs

import { makeTest, makeMedia, launch, openPage, waitConnected, statusOf, colourShares,
         audioTap, audioLevels, judgeTones, HEARD_DB, ABSENT_DB, shot, until } from './lib.mjs';

const t = makeTest('meeting', 150_000);
const WITHIN_MS = 15_000;
const people = [
  { tag: 'ada', rgb: [230, 30, 30], freq: 440 },
  { tag: 'bob', rgb: [30, 200, 40], freq: 740 },
  { tag: 'cyd', rgb: [40, 60, 230], freq: 1270 },
];

await t.run(async () => {
  for (const p of people) p.media = makeMedia(t, p.tag, p.rgb, p.freq);
  await Promise.all(people.map(async (p) => { p.browser = await launch(t, p.media); }));
  t.log('browsers up');

  // Ada through the join page.
  const ada = people[0];
  ada.page = await openPage(t, ada.browser, `${t.base}/r/demo`, ada.tag);
  await ada.page.waitForFunction(() => document.getElementById('status').dataset.state === 'preview' &&
                                       document.getElementById('preview').videoWidth > 0, null, { timeout: 10_000 });
  await ada.page.fill('#name', 'Ada');
  await shot(t, ada.page, 'join-page.png');
  const t0 = Date.now();
  await ada.page.click('#join');
  await Promise.all(people.slice(1).map(async (p) => {
    p.page = await openPage(t, p.browser, `${t.base}/r/demo?autojoin=1&name=${p.tag}`, p.tag);
  }));
  for (const p of people) {
    try { await waitConnected(p.page, 10_000); } catch {
      t.fail(`${p.tag}: not connected within 10 s; status "${await statusOf(p.page)}"`);
      return;
    }
  }
  t.log(`all three connected after ${Date.now() - t0} ms (since Ada's Join click)`);
  // The 15 s start when the last one is in: only then can everyone be in the picture.
  const tIn = Date.now();

  // Each page: the others' colours and tones, not its own tone.
  const freqs = people.map((q) => q.freq);
  const results = await Promise.all(people.map(async (p) => {
    const me = people.indexOf(p);
    const others = people.map((_, i) => i).filter((i) => i !== me);
    let last = null;
    const ok = await until(WITHIN_MS - (Date.now() - tIn), async () => {
      const tap = await audioTap(p.page, freqs);
      const col = await colourShares(p.page, others.map((i) => people[i].rgb));
      const lv = tap && await audioLevels(p.page, 1000);
      const judged = lv && lv.n ? judgeTones(freqs, lv, others, [me]) : null;
      last = { col, tap, judged };
      if (!col || !judged) return false;
      t.log(`${p.tag}: colours ${col.shares.map((s) => (s * 100).toFixed(1) + '%').join('/')}; audio ${judged.text}`);
      const seen = col.shares.every((s) => s > 0.02);
      return seen && judged.ok ? { ms: Date.now() - tIn, col, tap, judged } : false;
    }, 200);
    return { p, ok, last };
  }));
  for (const { p, ok, last } of results) {
    const fmt = (r) => r ? `video ${r.col && r.col.size} colour shares ${r.col && r.col.shares.map((s) => (s * 100).toFixed(1) + '%').join('/')}` +
      `; audio ${r.judged ? r.judged.text : 'none'}; path ${JSON.stringify(r.tap)}` : 'no data';
    if (ok) t.log(`${p.tag}: OK ${ok.ms} ms after all were connected: ${fmt(ok)}`);
    else t.fail(`${p.tag}: within ${WITHIN_MS / 1000} s did not see both others' colours (>2 %) and hear both others' tones ` +
                `(>= ${HEARD_DB} dB over the floor) without its own (>= ${ABSENT_DB} dB under the strongest): ` +
                `${last && last.judged ? last.judged.why.join('; ') : ''}; last ${fmt(last)}`);
  }

  // The roster: everyone sees three names.
  for (const p of people) {
    const n = await p.page.locator('#roster li').count();
    if (n !== 3) t.fail(`${p.tag}: roster shows ${n} people, expected 3`);
  }
  await ada.page.click('#conn summary');
  await sleep1();
  await shot(t, ada.page, 'room-meeting.png');
  // Phone-sized view.
  await ada.page.setViewportSize({ width: 390, height: 844 });
  await shot(t, ada.page, 'room-meeting-phone.png');

  // Leave cleanly.
  for (const p of people) {
    await p.page.click('#leave');
    await p.page.waitForFunction(() => document.getElementById('status').dataset.state === 'left', null, { timeout: 5000 })
      .catch(() => t.fail(`${p.tag}: leave did not finish`));
  }
});

function sleep1() { return new Promise((r) => setTimeout(r, 1200)); }
