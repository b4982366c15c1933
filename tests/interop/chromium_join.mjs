// Interop test: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) joins the open room `demo` of a running tutti with a fake
// camera and microphone, and checks that media flows back and is decoded.
//
//   node chromium_join.mjs [http://127.0.0.1:PORT]     (or env TUTTI_URL)
//
// With TUTTI_VIDEO_CODEC=H264 the page's offer puts H.264 first (as Safari
// does), and the test checks that H.264 is what Chromium sends and decodes.
//
// Exit status: 0 pass, 1 a check failed, 2 could not run (setup problem).

import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const CONNECT_TIMEOUT_MS = 10_000;
const SAMPLE_GAP_MS = 2_000;
const OVERALL_TIMEOUT_MS = 60_000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const base = (process.argv[2] || process.env.TUTTI_URL || '').replace(/\/+$/, '');
if (!/^https?:\/\/[^/]+$/.test(base)) {
  console.error('chromium_join: give the server URL as the first argument or in TUTTI_URL ' +
                '(e.g. http://127.0.0.1:8080)');
  process.exit(2);
}
const room = process.env.TUTTI_ROOM || 'demo';
const preferCodec = process.env.TUTTI_VIDEO_CODEC || '';
// autojoin: the page skips its lobby (name, devices, data mode) and joins.
const pageUrl = `${base}/r/${room}?autojoin=1&name=chromium-join`;

let chromium;
try {
  const require = createRequire(import.meta.url);
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('chromium_join: cannot load playwright-core: tests/interop/node_modules is missing ' +
                'or incomplete. Run `npm ci` in tests/interop first.\n  (' + e.message + ')');
  process.exit(2);
}

const log = (...a) => console.log('chromium_join:', ...a);
let browser = null;
let failed = false;
const fail = (msg) => { console.error('chromium_join: FAIL: ' + msg); failed = true; };

const watchdog = setTimeout(async () => {
  console.error(`chromium_join: FAIL: overall timeout (${OVERALL_TIMEOUT_MS / 1000} s)`);
  try { if (browser) await browser.close(); } catch { /* ignore */ }
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

// Figures from the page's RTCPeerConnection, reduced to plain JSON.
async function sample(page) {
  return page.evaluate(async () => {
    const pc = window.tuttiPc;
    const report = await pc.getStats();
    const out = { inbound: {}, outbound: {}, pair: null, codecs: {} };
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.inbound[s.kind] = {
          ssrc: s.ssrc, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost,
          bytesReceived: s.bytesReceived, framesDecoded: s.framesDecoded,
          frameWidth: s.frameWidth, frameHeight: s.frameHeight, jitter: s.jitter,
          totalSamplesReceived: s.totalSamplesReceived, codecId: s.codecId,
          keyFramesDecoded: s.keyFramesDecoded, nackCount: s.nackCount, pliCount: s.pliCount,
        };
      } else if (s.type === 'outbound-rtp') {
        // (the camera's: the screen-share sender sends nothing here)
        const had = out.outbound[s.kind];
        if (had && had.packetsSent >= s.packetsSent) return;
        out.outbound[s.kind] = { ssrc: s.ssrc, packetsSent: s.packetsSent, bytesSent: s.bytesSent,
                                 framesEncoded: s.framesEncoded, codecId: s.codecId };
      } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        out.pair = { bytesSent: s.bytesSent, bytesReceived: s.bytesReceived,
                     rtt: s.currentRoundTripTime };
      } else if (s.type === 'codec') {
        out.codecs[s.id] = s.mimeType;
      }
    });
    for (const dir of [out.inbound, out.outbound]) {
      for (const k of Object.keys(dir)) {
        dir[k].codec = out.codecs[dir[k].codecId] || null;
        delete dir[k].codecId;
      }
    }
    delete out.codecs;
    return out;
  });
}

// Everything getStats knows, for the failure report.
async function dumpStats(page) {
  try {
    const all = await page.evaluate(async () => {
      if (!window.tuttiPc) return 'window.tuttiPc is not set';
      const pc = window.tuttiPc;
      const r = await pc.getStats();
      const rows = [];
      r.forEach((s) => rows.push(s));
      return { connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState,
               iceGatheringState: pc.iceGatheringState, signalingState: pc.signalingState,
               stats: rows };
    });
    console.error('chromium_join: getStats dump:\n' + JSON.stringify(all, null, 1));
  } catch (e) {
    console.error('chromium_join: (no stats: ' + e.message + ')');
  }
}

async function statusText(page) {
  try { return await page.locator('#status').textContent(); } catch { return '?'; }
}

async function main() {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // launch() gives the browser a fresh temporary profile and deletes it after.
    args: [
      '--no-sandbox', '--disable-gpu',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic',
    ],
  });
  log('browser', browser.version());
  const context = await browser.newContext();
  if (preferCodec) {
    // Before each offer, every video transceiver lists this codec first.
    await context.addInitScript((mime) => {
      const want = ('video/' + mime).toLowerCase();
      const orig = RTCPeerConnection.prototype.createOffer;
      RTCPeerConnection.prototype.createOffer = function (...args) {
        const caps = RTCRtpReceiver.getCapabilities('video').codecs;
        const order = [...caps.filter((c) => c.mimeType.toLowerCase() === want),
                       ...caps.filter((c) => c.mimeType.toLowerCase() !== want)];
        for (const t of this.getTransceivers())
          if (t.receiver.track.kind === 'video' && t.setCodecPreferences) t.setCodecPreferences(order);
        return orig.apply(this, args);
      };
    }, preferCodec);
    log('video codec preferred:', preferCodec);
  }
  const page = await context.newPage();
  page.on('console', (m) => log(`[console.${m.type()}]`, m.text()));
  page.on('pageerror', (e) => log('[page error]', e.message));
  const http = [];
  page.on('response', (r) => {
    const req = r.request();
    if (req.url().includes('/api/')) {
      http.push({ method: req.method(), url: req.url(), status: r.status() });
      log('http', req.method(), req.url(), '->', r.status());
    }
  });

  log('opening', pageUrl);
  const resp = await page.goto(pageUrl, { waitUntil: 'load', timeout: 10_000 });
  if (!resp || resp.status() !== 200) {
    fail(`GET ${pageUrl} answered ${resp ? resp.status() : 'nothing'}`);
    return;
  }

  const t0 = Date.now();
  try {
    // Resolves on 'connected', or early when the page gave up ('failed').
    await page.waitForFunction(
      () => (window.tuttiPc && window.tuttiPc.connectionState === 'connected') ||
            document.getElementById('status').dataset.state === 'failed',
      null, { timeout: CONNECT_TIMEOUT_MS, polling: 100 });
    const ok = await page.evaluate(() => window.tuttiPc && window.tuttiPc.connectionState === 'connected');
    if (!ok) throw new Error('page failed');
  } catch {
    const state = await page.evaluate(() => window.tuttiPc ?
      `${window.tuttiPc.connectionState} (ice ${window.tuttiPc.iceConnectionState})` :
      'no window.tuttiPc').catch(() => '?');
    fail(`not connected (limit ${CONNECT_TIMEOUT_MS / 1000} s, gave up after ${Date.now() - t0} ms): connectionState ${state}, ` +
         `page status "${await statusText(page)}"`);
    await dumpStats(page);
    return;
  }
  log(`connected after ${Date.now() - t0} ms; page status "${await statusText(page)}"`);

  const a = await sample(page);
  await sleep(SAMPLE_GAP_MS);
  const b = await sample(page);
  log('sample 1:', JSON.stringify(a));
  log('sample 2:', JSON.stringify(b));

  const get = (s, kind, field) => (s.inbound[kind] && s.inbound[kind][field]) || 0;
  const checks = [
    ['audio', 'packetsReceived'],
    ['video', 'packetsReceived'],
    ['video', 'framesDecoded'],
  ];
  for (const [kind, field] of checks) {
    const x = get(a, kind, field), y = get(b, kind, field);
    log(`inbound ${kind} ${field}: ${x} -> ${y} (+${y - x} in ${SAMPLE_GAP_MS / 1000} s)`);
    if (!b.inbound[kind]) fail(`no inbound-rtp ${kind} stream in getStats`);
    else if (!(y > x)) fail(`inbound ${kind} ${field} did not increase (${x} -> ${y})`);
  }
  if (preferCodec) {
    const want = ('video/' + preferCodec).toLowerCase();
    const inC = (b.inbound.video && b.inbound.video.codec) || 'none';
    const outC = (b.outbound.video && b.outbound.video.codec) || 'none';
    log(`video codec: received ${inC}, sent ${outC}`);
    if (inC.toLowerCase() !== want) fail(`received video is ${inC}, not ${want}`);
    if (outC.toLowerCase() !== want) fail(`sent video is ${outC}, not ${want}`);
    const x = (a.outbound.video && a.outbound.video.framesEncoded) || 0;
    const y = (b.outbound.video && b.outbound.video.framesEncoded) || 0;
    if (!(y > x)) fail(`outbound video framesEncoded did not increase (${x} -> ${y})`);
    // The server decodes what Chromium sends: the only sender in the room.
    const m = await (await fetch(`${base}/metrics`)).text();
    const dec = Number((m.match(/^tutti_video_decodes_total (\d+)/m) || [])[1] || 0);
    log(`server video decodes: ${dec}`);
    if (!(dec > 10)) fail(`the server decoded ${dec} frames of Chromium's ${preferCodec}`);
  }
  if (failed) await dumpStats(page);

  // Leave: the page DELETEs its participant URL.
  await page.click('#leave');
  try {
    await page.waitForFunction(() => document.getElementById('status').dataset.state === 'left',
                               null, { timeout: 5_000 });
  } catch {
    fail(`Leave did not finish; page status "${await statusText(page)}"`);
  }
  const del = http.find((h) => h.method === 'DELETE');
  if (!del) fail('Leave sent no DELETE');
  else if (del.status !== 204) fail(`DELETE ${del.url} answered ${del.status}, expected 204`);
}

try {
  await main();
} catch (e) {
  fail('unexpected error: ' + (e && e.stack ? e.stack : e));
} finally {
  clearTimeout(watchdog);
  try { if (browser) await browser.close(); } catch { /* ignore */ }
}
console.log(failed ? 'chromium_join: FAILED' : 'chromium_join: PASS');
process.exit(failed ? 1 : 0);
