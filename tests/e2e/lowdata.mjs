// End-to-end: low-data mode. Two browsers in the open room `demo`; the
// receiver switches its data mode to audio-only from the room page (a PATCH
// {"data_cap": "audio-only"} without rejoining): its inbound video bytes
// stop growing, its audio keeps coming (the other's tone is still heard),
// the server's roster says audio-only; back to auto, video resumes.
//
//   tests/interop/run_with_server.sh build/server/tutti -- node tests/e2e/lowdata.mjs

import { makeTest, makeMedia, launch, openPage, waitConnected, statusOf, inbound,
         toneLevels, TONE_DB, until, sleep, shot } from './lib.mjs';

const t = makeTest('lowdata', 90_000);

await t.run(async () => {
  const tx = { tag: 'sender', media: makeMedia(t, 'sender', [230, 30, 30], 440) };
  const rx = { tag: 'receiver', media: makeMedia(t, 'receiver', [30, 200, 40], 1270) };
  await Promise.all([tx, rx].map(async (p) => { p.browser = await launch(t, p.media); }));
  await Promise.all([tx, rx].map(async (p) => {
    p.page = await openPage(t, p.browser, `${t.base}/r/demo?autojoin=1&name=${p.tag}`, p.tag);
  }));
  for (const p of [tx, rx]) {
    try { await waitConnected(p.page, 10_000); } catch {
      t.fail(`${p.tag}: not connected within 10 s; status "${await statusOf(p.page)}"`);
      return;
    }
  }
  const page = rx.page;
  // Video flows first.
  const flowing = await until(8000, async () => {
    const a = await inbound(page); await sleep(1000); const b = await inbound(page);
    return b.video && b.video.bytes - a.video.bytes > 2000 ? [a, b] : null;
  });
  if (!flowing) { t.fail('receiver: no inbound video before the switch'); return; }
  t.log(`auto: inbound video +${flowing[1].video.bytes - flowing[0].video.bytes} bytes in 1 s`);

  // Switch from the page, as a person would.
  await page.selectOption('#mode-select', 'audio-only');
  const cap = await until(3000, () => page.evaluate(() => window.tutti.me && window.tutti.me.data_cap === 'audio-only'));
  if (!cap) t.fail('the roster (the server\'s view) does not say audio-only within 3 s');
  const caption = await page.locator('#captions').textContent();
  if (!/audio only/i.test(caption)) t.fail(`captions do not say audio only: "${caption}"`);
  if (await page.evaluate(() => window.tuttiPc.connectionState) !== 'connected') t.fail('switching dropped the connection');
  await sleep(1500); // let what was in flight land
  const a = await inbound(page);
  await sleep(4000);
  const b = await inbound(page);
  const dv = b.video.bytes - a.video.bytes, da = b.audio.packets - a.audio.packets;
  t.log(`audio-only: inbound video +${dv} bytes, audio +${da} packets in 4 s`);
  if (dv > 1500) t.fail(`inbound video still grows in audio-only mode (+${dv} bytes in 4 s)`);
  if (da < 100) t.fail(`inbound audio does not keep coming (+${da} packets in 4 s)`);
  const tone = await toneLevels(page, [440, 1270]);
  t.log('audio-only: tone dB over floor 440Hz (sender):', tone && tone.levels[0]);
  if (!tone || tone.levels[0] < TONE_DB) t.fail('the sender\'s tone is not heard in audio-only mode');
  await shot(t, page, 'room-audio-only.png');

  // Back to auto: video resumes.
  await page.selectOption('#mode-select', 'auto');
  const back = await until(8000, async () => {
    const x = await inbound(page); await sleep(1000); const y = await inbound(page);
    return y.video.frames > x.video.frames ? y.video.bytes - x.video.bytes : null;
  });
  if (!back) t.fail('video did not resume within 8 s of switching back to auto');
  else t.log(`auto again: inbound video +${back} bytes in 1 s`);
});
