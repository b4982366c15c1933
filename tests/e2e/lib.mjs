// Shared helpers of the end-to-end tests: one headless Chromium per
// participant (the fake camera and microphone files are per process), each
// with a solid-colour Y4M camera and a sine-tone WAV microphone; pixel and
// tone checks on what the page receives; admin API calls; screenshots.
//
// Environment: TUTTI_URL (run_with_server.sh sets it), TUTTI_ADMIN_KEY (or
// the server's DATA_DIR/admin.key through TUTTI_TEST_DATA_DIR),
// CHROMIUM_PATH (default /usr/bin/chromium), TUTTI_E2E_OUT (screenshots;
// default tests/out/e2e).

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function makeTest(name, limitMs) {
  const t = {
    name, failed: false, browsers: [], tmp: null, t0: Date.now(),
    log: (...a) => console.log(`${name} [${((Date.now() - t.t0) / 1000).toFixed(1)}s]:`, ...a),
    fail: (msg) => { console.error(`${name}: FAIL: ${msg}`); t.failed = true; },
  };
  t.base = (process.env.TUTTI_URL || '').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(t.base)) {
    console.error(`${name}: set TUTTI_URL (run me through tests/interop/run_with_server.sh)`);
    process.exit(2);
  }
  try {
    const require = createRequire(join(repoRoot, 'tests', 'interop', 'package.json'));
    t.chromium = require('playwright-core').chromium;
  } catch (e) {
    console.error(`${name}: cannot load playwright-core from tests/interop/node_modules ` +
                  `(run npm ci there): ${e.message}`);
    process.exit(2);
  }
  t.tmp = mkdtempSync(join(tmpdir(), 'tutti-e2e-'));
  t.out = process.env.TUTTI_E2E_OUT || join(repoRoot, 'tests', 'out', 'e2e');
  mkdirSync(t.out, { recursive: true });
  t.cleanup = async () => {
    for (const b of t.browsers) { try { await b.close(); } catch { /* gone */ } }
    t.browsers = [];
    try { rmSync(t.tmp, { recursive: true, force: true }); } catch { /* ignore */ }
  };
  t.watchdog = setTimeout(async () => {
    console.error(`${name}: FAIL: overall timeout (${limitMs / 1000} s)`);
    await t.cleanup();
    process.exit(1);
  }, limitMs);
  // Runs main, always cleans up, exits with 0 pass / 1 fail.
  t.run = async (main) => {
    try { await main(); } catch (e) { t.fail('unexpected error: ' + (e && e.stack ? e.stack : e)); }
    clearTimeout(t.watchdog);
    await t.cleanup();
    console.log(`${name}: ${t.failed ? 'FAILED' : 'PASS'} (${((Date.now() - t.t0) / 1000).toFixed(1)} s)`);
    process.exit(t.failed ? 1 : 0);
  };
  return t;
}

// A fake camera (solid colour, 320x240 @ 15 fps, C420 Y4M) and microphone
// (sine tone WAV), made with GStreamer.
export function makeMedia(t, tag, rgb, freq) {
  const y4m = join(t.tmp, `${tag}.y4m`), wav = join(t.tmp, `${tag}.wav`);
  const hex = '0xff' + rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'pattern=solid-color', `foreground-color=${hex}`,
    'num-buffers=30', '!', 'video/x-raw,width=320,height=240,framerate=15/1,format=I420', '!',
    'y4menc', '!', 'filesink', `location=${y4m}`], { stdio: 'inherit', timeout: 20000 });
  execFileSync('gst-launch-1.0', ['-q', 'audiotestsrc', 'wave=sine', `freq=${freq}`, 'volume=0.5',
    'num-buffers=200', '!', 'audio/x-raw,rate=48000,channels=1,format=S16LE', '!', 'wavenc', '!',
    'filesink', `location=${wav}`], { stdio: 'inherit', timeout: 20000 });
  return { y4m, wav, rgb, freq, tag };
}

export async function launch(t, media) {
  const b = await t.chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${media.y4m}`,
      `--use-file-for-fake-audio-capture=${media.wav}`,
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic', '--disable-renderer-backgrounding',
      '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
    ],
  });
  t.browsers.push(b);
  return b;
}

export async function openPage(t, browser, url, tag, viewport) {
  const ctx = await browser.newContext({ viewport: viewport || { width: 1100, height: 760 } });
  // The fake microphone plays a steady sine tone: Chromium's noise
  // suppression and gain control would fade it out, so the test turns them off.
  await ctx.addInitScript(() => {
    const md = navigator.mediaDevices;
    const orig = md.getUserMedia.bind(md);
    md.getUserMedia = (c) => {
      if (c && c.audio) {
        c = Object.assign({}, c, { audio: Object.assign(c.audio === true ? {} : c.audio,
          { echoCancellation: false, noiseSuppression: false, autoGainControl: false }) });
      }
      return orig(c);
    };
  });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') t.log(`[${tag} console.${m.type()}]`, m.text()); });
  page.on('pageerror', (e) => t.log(`[${tag} page error]`, e.message));
  const resp = await page.goto(url, { waitUntil: 'load', timeout: 10000 });
  if (!resp || resp.status() !== 200) throw new Error(`GET ${url} answered ${resp ? resp.status() : 'nothing'}`);
  return page;
}

export async function waitConnected(page, ms) {
  await page.waitForFunction(() => window.tuttiPc && window.tuttiPc.connectionState === 'connected' &&
                                   document.getElementById('status').dataset.state === 'connected',
                             null, { timeout: ms, polling: 100 });
}

export const statusOf = (page) => page.locator('#status').textContent().catch(() => '?');

// Fractions of the received video's pixels near each of the given colours.
export async function colourShares(page, colours) {
  return page.evaluate((colours) => {
    const v = document.getElementById('remote');
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const n = c.width * c.height;
    const hits = colours.map(() => 0);
    for (let i = 0; i < d.length; i += 4) {
      for (let k = 0; k < colours.length; k++) {
        const [r, gg, b] = colours[k];
        if (Math.abs(d[i] - r) < 60 && Math.abs(d[i + 1] - gg) < 60 && Math.abs(d[i + 2] - b) < 60) hits[k]++;
      }
    }
    return { size: c.width + 'x' + c.height, shares: hits.map((h) => h / n) };
  }, colours);
}

// Level (dB above the spectrum's median) of each frequency in the audio the
// page receives, the max over a few analyser reads spread over `ms`.
export async function toneLevels(page, freqs, ms = 600) {
  return page.evaluate(async ({ freqs, ms }) => {
    if (!window.__tuttiAnalyser) {
      const pc = window.tuttiPc;
      const r = pc && pc.getReceivers().find((x) => x.track && x.track.kind === 'audio');
      if (!r) return null;
      const ac = new AudioContext({ sampleRate: 48000 });
      await ac.resume();
      const src = ac.createMediaStreamSource(new MediaStream([r.track]));
      const an = ac.createAnalyser();
      an.fftSize = 8192;
      an.smoothingTimeConstant = 0;
      src.connect(an);
      window.__tuttiAnalyser = { ac, an, pc, src };
    }
    const { ac, an } = window.__tuttiAnalyser;
    const buf = new Float32Array(an.frequencyBinCount);
    const best = freqs.map(() => -Infinity);
    let floor = 0;
    const reads = 6;
    for (let k = 0; k < reads; k++) {
      an.getFloatFrequencyData(buf);
      const sorted = Array.from(buf).filter(Number.isFinite).sort((a, b) => a - b);
      const med = sorted.length ? sorted[sorted.length >> 1] : -200;
      floor += med / reads;
      freqs.forEach((f, i) => {
        const bin = Math.round(f / (ac.sampleRate / an.fftSize));
        let m = -Infinity;
        for (let j = bin - 3; j <= bin + 3; j++) if (buf[j] > m) m = buf[j];
        best[i] = Math.max(best[i], m - med);
      });
      await new Promise((res) => setTimeout(res, ms / reads));
    }
    return { levels: best.map((x) => Math.round(x)), floor: Math.round(floor), abs: best.map((x) => Math.round(x + floor)) };
  }, { freqs, ms });
}
// A tone counts as heard this far above the spectrum's median: a tone in the
// mix reads 75-115 dB, codec noise at its frequency 50-75 (the median moves
// with the content: this measure is not yet steady enough, see lecture.mjs).
export const TONE_DB = 30;

// Inbound RTP figures of the page.
export async function inbound(page) {
  return page.evaluate(async () => {
    const out = {};
    const r = await window.tuttiPc.getStats();
    r.forEach((s) => {
      if (s.type === 'inbound-rtp') out[s.kind] = { bytes: s.bytesReceived || 0, packets: s.packetsReceived || 0,
                                                    frames: s.framesDecoded || 0 };
    });
    return out;
  });
}

// Screenshots go to the run's output folder only (never into the tree).
export async function shot(t, page, file) {
  const p = join(t.out, file);
  await page.screenshot({ path: p, fullPage: true });
  t.log('screenshot', p);
}

export function adminKey() {
  if (process.env.TUTTI_ADMIN_KEY) return process.env.TUTTI_ADMIN_KEY;
  const f = process.env.TUTTI_TEST_DATA_DIR && join(process.env.TUTTI_TEST_DATA_DIR, 'admin.key');
  if (f && existsSync(f)) return readFileSync(f, 'utf8').trim();
  throw new Error('no admin key: set TUTTI_ADMIN_KEY');
}

export async function adminApi(t, method, path, body) {
  const res = await fetch(t.base + path, {
    method, headers: { Authorization: 'Bearer ' + adminKey(), 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Polls fn until it returns a truthy value or ms pass; returns the value or null.
export async function until(ms, fn, gap = 250) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() >= end) return null;
    await sleep(gap);
  }
}
