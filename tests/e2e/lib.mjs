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
// (sine tone WAV), made with GStreamer. rgb null: no camera at all (the
// browser finds no video device; the page joins with sound only).
export function makeMedia(t, tag, rgb, freq) {
  const y4m = rgb ? join(t.tmp, `${tag}.y4m`) : null, wav = join(t.tmp, `${tag}.wav`);
  const hex = rgb && '0xff' + rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
  if (y4m) execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'pattern=solid-color', `foreground-color=${hex}`,
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
      '--use-fake-ui-for-media-stream',
      ...(media.y4m ? ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${media.y4m}`]
                    : ['--use-fake-device-for-media-stream=device-count=0']),
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
// The older measure, still used by lowdata.mjs only; meeting.mjs and
// lecture.mjs use audioTap / audioLevels below (the median of the whole
// spectrum moves between runs, from -128 to -158 dBFS).
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

// --- Tone measurement on the received audio --------------------------------
// A tap on the page's received audio track (AudioContext at 48 kHz,
// MediaStreamSource -> AudioWorklet) cuts it into back-to-back 200 ms
// windows (9600 samples). For each window the page computes, with a Hann
// window and Goertzel filters:
//   - the level of each test tone: the strongest of five filters at f-4,
//     f-2, f, f+2, f+4 Hz (a narrow band around the tone's own frequency);
//   - the noise floor: the median level of probe frequencies every 50 Hz
//     from 175 to 3975 Hz, leaving out +-60 Hz around every test tone and
//     its 2nd and 3rd harmonics.
// Levels are in dB relative to a full-scale sine (a sine of amplitude A
// reads 20*log10(A)). Each window carries the wall-clock time (Date.now(),
// the same clock as node's on this machine) at which its last sample
// reached the page's audio graph: stamped in the worklet, on the audio
// thread, so that a busy main thread (four browsers on two cores) does not
// make a window look later than the page played it; `lag` says how much
// later the main thread got it.
//
// The received track is also what the page plays through its <audio
// id="remote-audio"> element (tutti.js attaches it; Chrome delivers remote
// WebRTC audio to WebAudio only while the track is attached to a media
// element); the browser runs with --autoplay-policy=no-user-gesture-required.
export const WIN_MS = 200;
// "Heard": a tone at least this far above the noise floor.
export const HEARD_DB = 20;
// "Absent": a tone at least this far below the strongest tone received
// (Opus can leave small lines near a missing tone, so not the floor).
export const ABSENT_DB = 30;

// Installs the tap once (freqs: every test tone in the room). Returns a
// description of the audio path, or null while there is no audio receiver.
// kind 'send' taps the page's own microphone track instead (diagnostics).
export async function audioTap(page, freqs, kind = 'recv') {
  return page.evaluate(async ({ freqs, kind }) => {
    const KEY = kind === 'send' ? '__tuttiTapSend' : '__tuttiTap';
    const describe = () => {
      const tp = window[KEY];
      const el = document.getElementById('remote-audio');
      return {
        ctx: tp.ac.state, windows: tp.windows.length, track: tp.track.readyState,
        trackMuted: tp.track.muted,
        element: el ? { paused: el.paused, tracks: el.srcObject ? el.srcObject.getAudioTracks().length : 0,
                        sameTrack: !!(el.srcObject && el.srcObject.getAudioTracks().includes(tp.track)) } : null,
      };
    };
    if (window[KEY]) return describe();
    const pc = window.tuttiPc;
    const r = pc && (kind === 'send' ? pc.getSenders() : pc.getReceivers()).find((x) => x.track && x.track.kind === 'audio');
    if (!r) return null;
    const el = document.getElementById('remote-audio');
    if (el && el.paused) await el.play().catch(() => {});
    const ac = new AudioContext({ sampleRate: 48000 });
    await ac.resume().catch(() => {});
    const N = 9600;
    const code = `class TuttiTap extends AudioWorkletProcessor {
      constructor() { super(); this.buf = new Float32Array(${N}); this.i = 0; }
      process(inputs) {
        const ch = inputs[0] && inputs[0][0];
        const len = ch ? ch.length : 128;
        for (let k = 0; k < len; k++) {
          this.buf[this.i++] = ch ? ch[k] : 0;
          if (this.i === ${N}) {
            this.port.postMessage({ buf: this.buf, at: Date.now() }, [this.buf.buffer]);
            this.buf = new Float32Array(${N}); this.i = 0;
          }
        }
        return true;
      }
    }
    registerProcessor('tutti-tap', TuttiTap);`;
    const url = URL.createObjectURL(new Blob([code], { type: 'application/javascript' }));
    await ac.audioWorklet.addModule(url);
    const src = ac.createMediaStreamSource(new MediaStream([r.track]));
    const node = new AudioWorkletNode(ac, 'tutti-tap', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
    const mute = ac.createGain();
    mute.gain.value = 0;
    src.connect(node); node.connect(mute); mute.connect(ac.destination);
    // Hann window and the filters.
    const hann = new Float32Array(N);
    for (let n = 0; n < N; n++) hann[n] = 0.5 - 0.5 * Math.cos(2 * Math.PI * n / (N - 1));
    const near = (f, g, d) => Math.abs(f - g) <= d;
    const probes = [];
    for (let f = 175; f <= 3975; f += 50) {
      if (!freqs.some((g) => near(f, g, 60) || near(f, 2 * g, 60) || near(f, 3 * g, 60))) probes.push(f);
    }
    const coef = (f) => 2 * Math.cos(2 * Math.PI * f / 48000);
    const goertzel = (x, c) => {
      let s1 = 0, s2 = 0;
      for (let n = 0; n < N; n++) { const s = x[n] + c * s1 - s2; s2 = s1; s1 = s; }
      const p = s1 * s1 + s2 * s2 - c * s1 * s2;
      // |X| = A*N/4 for a sine of amplitude A (Hann coherent gain 1/2).
      return 10 * Math.log10(Math.max(p, 1e-30) * 16 / (N * N));
    };
    const tp0 = {};
    const toneCoefs = freqs.map((f) => [-4, -2, 0, 2, 4].map((d) => coef(f + d)));
    const probeCoefs = probes.map(coef);
    tp0.goertzel = goertzel; tp0.coef = coef;
    const tp = window[KEY] = { ...tp0, ac, src, node, mute, track: r.track, windows: [], count: 0, probes, freqs };
    node.port.onmessage = (ev) => {
      const at = ev.data.at, lag = Date.now() - at;
      const raw = ev.data.buf, x = new Float32Array(N);
      let peak = 0;
      for (let n = 0; n < N; n++) { x[n] = raw[n] * hann[n]; const a = Math.abs(raw[n]); if (a > peak) peak = a; }
      tp.last = x;
      const tones = toneCoefs.map((cs) => Math.max(...cs.map((c) => goertzel(x, c))));
      const pr = probeCoefs.map((c) => goertzel(x, c)).sort((a, b) => a - b);
      const floor = pr[pr.length >> 1];
      tp.windows.push({ seq: tp.count++, at, lag, tones, floor, peak: 20 * Math.log10(Math.max(peak, 1e-10)) });
      if (tp.windows.length > 900) tp.windows.splice(0, 300);
    };
    return describe();
  }, { freqs, kind });
}

// Tone levels averaged (in power) over the next `ms` of received audio
// (ms / 200 windows that arrive after the call; waits for them, at most
// 3 * ms + 1 s): { tones: [dB], floor: dB (the windows' floors averaged in
// power), n: windows, peak: dBFS, tookMs }. null without a tap.
export async function audioLevels(page, ms = 1000, kind = 'recv') {
  return page.evaluate(async ({ ms, kind }) => {
    const tp = window[kind === 'send' ? '__tuttiTapSend' : '__tuttiTap'];
    if (!tp) return null;
    const t0 = Date.now(), k = Math.max(1, Math.round(ms / 200)), from = tp.count;
    while (tp.count < from + k && Date.now() - t0 < 3 * ms + 1000) await new Promise((res) => setTimeout(res, 50));
    const w = tp.windows.filter((x) => x.seq >= from && x.seq < from + k);
    if (!w.length) return { tones: tp.freqs.map(() => -Infinity), floor: -Infinity, n: 0, peak: -Infinity, tookMs: Date.now() - t0 };
    const avg = (vals) => 10 * Math.log10(vals.reduce((a, v) => a + Math.pow(10, v / 10), 0) / vals.length);
    return {
      tones: tp.freqs.map((_, i) => avg(w.map((x) => x.tones[i]))),
      floor: avg(w.map((x) => x.floor)), n: w.length, peak: Math.max(...w.map((x) => x.peak)),
      tookMs: Date.now() - t0,
    };
  }, { ms, kind });
}

// Diagnostics: the strongest spectral lines (5 Hz steps, 100-4000 Hz) of
// the last 200 ms window: [[Hz, dB], ...].
export async function audioPeaks(page, n = 8, kind = 'recv') {
  return page.evaluate(({ n, kind }) => {
    const tp = window[kind === 'send' ? '__tuttiTapSend' : '__tuttiTap'];
    if (!tp || !tp.last) return null;
    const sp = [];
    for (let f = 100; f <= 4000; f += 5) sp.push([f, tp.goertzel(tp.last, tp.coef(f))]);
    const peaks = sp.filter((v, i) => i > 0 && i < sp.length - 1 && v[1] >= sp[i - 1][1] && v[1] >= sp[i + 1][1]);
    return peaks.sort((a, b) => b[1] - a[1]).slice(0, n).map(([f, d]) => [f, Math.round(d)]);
  }, { n, kind });
}

// The windows recorded since `sinceMs` (Date.now() clock): [{ at, tones, floor }].
export async function audioWindows(page, sinceMs) {
  return page.evaluate((since) => {
    const tp = window.__tuttiTap;
    return tp ? tp.windows.filter((x) => x.at > since) : null;
  }, sinceMs);
}

// Judges levels { tones, floor } for one listener: `heard` and `absent` are
// indexes into freqs. Returns { ok, why[] , text }.
export function judgeTones(freqs, lv, heard, absent) {
  const why = [];
  const fx = (v) => (Number.isFinite(v) ? v.toFixed(1) : String(v));
  const strongest = Math.max(...lv.tones);
  for (const i of heard) {
    const over = lv.tones[i] - lv.floor;
    if (!(over >= HEARD_DB)) why.push(`${freqs[i]} Hz only ${fx(over)} dB over the floor (need >= ${HEARD_DB})`);
  }
  for (const i of absent) {
    const under = strongest - lv.tones[i];
    if (!(under >= ABSENT_DB)) why.push(`${freqs[i]} Hz only ${fx(under)} dB under the strongest tone (need >= ${ABSENT_DB})`);
  }
  const text = freqs.map((f, i) => `${f}Hz ${fx(lv.tones[i])} dB (floor+${fx(lv.tones[i] - lv.floor)}, ` +
                                    `strongest-${fx(strongest - lv.tones[i])})`).join(', ') +
               `; floor ${fx(lv.floor)} dB, peak ${fx(lv.peak)} dBFS, ${lv.n} windows in ${lv.tookMs} ms`;
  return { ok: why.length === 0, why, text };
}

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

// The server's /metrics lines whose names match re (diagnostics: where the
// room's CPU went), as one string.
export async function serverMetrics(t, re = /_seconds_total|missed|ticks_total|receivers|process_/) {
  const res = await fetch(t.base + '/metrics', { headers: { Authorization: 'Bearer ' + adminKey() } }).catch(() => null);
  if (!res || !res.ok) return `metrics: ${res ? res.status : 'no answer'}`;
  return (await res.text()).split('\n').filter((l) => !l.startsWith('#') && re.test(l)).join('; ');
}
