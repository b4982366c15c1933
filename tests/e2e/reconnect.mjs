// End-to-end: the server dies (kill -9) and comes back. This test runs its
// OWN tutti (argv[2]) on fixed ports with its own data directory; two
// browsers are in a room that the admin API made (kept in SQLite). After
// SIGKILL each page says that it is reconnecting; the server starts again
// on the same ports and data directory 3 s later; within 30 s both pages
// are connected again by themselves (a new join, with backoff), the room is
// back from the database, and the listener hears the talker again.
//
//   tests/interop/run_with_server.sh build/server/tutti -- node tests/e2e/reconnect.mjs build/server/tutti

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { makeTest, makeMedia, launch, openPage, waitConnected, statusOf, inbound, audioTap,
         audioLevels, judgeTones, adminApi, adminKey, until, sleep, shot } from './lib.mjs';

const t = makeTest('reconnect', 120_000);
const binary = process.argv[2];
if (!binary) { console.error('usage: reconnect.mjs TUTTI_BINARY'); process.exit(2); }

const freePort = (udp) => new Promise((res, rej) => {
  if (udp) {
    const s = createSocket('udp4');
    s.on('error', rej);
    s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  } else {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  }
});

let server = null;
async function startServer(httpPort, mediaPort, dataDir) {
  const log = openSync(join(t.tmp, 'server.log'), 'a');
  server = spawn(binary, ['--http', `127.0.0.1:${httpPort}`, '--media-port', String(mediaPort),
                          '--data-dir', dataDir, '--admin-key', adminKey(), '--log-level', 'info'],
                 { stdio: ['ignore', log, log] });
  const up = await until(10_000, async () => (await fetch(`${t.base}/livez`)).ok, 100);
  if (!up) throw new Error('the test server did not come up within 10 s');
}

await t.run(async () => {
  const [httpPort, mediaPort] = [await freePort(false), await freePort(true)];
  const dataDir = join(t.tmp, 'data');
  t.base = `http://127.0.0.1:${httpPort}`;
  await startServer(httpPort, mediaPort, dataDir);
  t.log(`own server on ${t.base}, media udp ${mediaPort}`);
  await adminApi(t, 'POST', '/api/v1/rooms', { name: 'phoenix', access: 'open' });
  const talker = { tag: 'talker', media: makeMedia(t, 'talker', [230, 30, 30], 440) };
  const listener = { tag: 'listener', media: makeMedia(t, 'listener', [30, 200, 40], 1270) };
  const people = [talker, listener];
  await Promise.all(people.map(async (p) => { p.browser = await launch(t, p.media); }));
  for (const p of people) p.page = await openPage(t, p.browser, `${t.base}/r/phoenix?autojoin=1&name=${p.tag}`, p.tag);
  for (const p of people) {
    try { await waitConnected(p.page, 15_000); } catch {
      t.fail(`${p.tag}: not connected within 15 s; status "${await statusOf(p.page)}"`);
      return;
    }
  }
  const freqs = [440, 1270];
  const hears = async (label) => {
    let last = null;
    const ok = await until(10_000, async () => {
      if (!(await audioTap(listener.page, freqs))) return null;
      const lv = await audioLevels(listener.page, 1000);
      last = lv && lv.n ? judgeTones(freqs, lv, [0], [1]) : null;
      return last && last.ok ? last : null;
    }, 200);
    if (ok) t.log(`listener ${label}: ${ok.text}`);
    else t.fail(`listener ${label}: does not hear the talker: ${last ? last.why.join('; ') + ': ' + last.text : 'no audio'}`);
  };
  await hears('before the crash');
  const id0 = await listener.page.evaluate(() => window.tutti.participantId);

  // kill -9: no BYE, no shutdown, sockets gone.
  server.kill('SIGKILL');
  const tKill = Date.now();
  t.log('server killed (SIGKILL)');
  for (const p of people) {
    const st = await until(15_000, () => p.page.evaluate(() => document.getElementById('status').dataset.state === 'reconnecting'), 200);
    const text = await statusOf(p.page);
    if (!st) t.fail(`${p.tag}: does not say it is reconnecting within 15 s of the crash; status "${text}"`);
    else t.log(`${p.tag}: "${text}" ${Date.now() - tKill} ms after the crash`);
  }
  await shot(t, listener.page, 'room-reconnecting.png');
  await sleep(Math.max(0, 3000 - (Date.now() - tKill)));
  await startServer(httpPort, mediaPort, dataDir);
  const tUp = Date.now();
  t.log(`server started again ${tUp - tKill} ms after the crash`);
  const room = await adminApi(t, 'GET', '/api/v1/rooms/phoenix').catch((e) => { t.fail(`the room is not back: ${e.message}`); return null; });
  if (room) t.log(`room back from the database: ${room.name}, access ${room.access}`);

  for (const p of people) {
    try {
      await waitConnected(p.page, 30_000);
      t.log(`${p.tag}: connected again ${Date.now() - tUp} ms after the server came back`);
    } catch { t.fail(`${p.tag}: not connected again within 30 s; status "${await statusOf(p.page)}"`); }
  }
  const id1 = await listener.page.evaluate(() => window.tutti.participantId);
  if (id1 === id0) t.fail('the listener kept its old participant id: it did not join again');
  // The new connection's audio: a fresh tap on the new track.
  await listener.page.evaluate(() => { if (window.__tuttiTap) { window.__tuttiTap.ac.close(); window.__tuttiTap = null; } });
  const a = await inbound(listener.page); await sleep(2000); const b = await inbound(listener.page);
  const da = (b.audio ? b.audio.packets : 0) - (a.audio ? a.audio.packets : 0);
  t.log(`listener: +${da} audio packets in 2 s on the new connection`);
  if (da < 50) t.fail(`the listener's audio does not flow after the reconnect (+${da} packets in 2 s)`);
  await hears('after the restart');
  await shot(t, listener.page, 'room-reconnected.png');
});
if (server) server.kill('SIGTERM');
