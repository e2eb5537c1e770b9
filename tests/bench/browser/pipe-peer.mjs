// SPDX-License-Identifier: MIT
// pipe-peer.mjs: the pipe's one-way floor for the in-browser benchmark,
// registered by run.js as the native host org.nmstore.pipe. The echo peer
// (tests/bench/echo.c) sends every frame back, so it moves the larger side
// of a workload both ways; when the host reads 7 MB and answers 50 kB, or
// reads 100 bytes and answers 56 MB, the echo's time is not the least a
// host could take. This peer moves exactly the frames the host moved, each
// in its own direction, and does nothing else with them.
//
// Each frame the page sends is {"id": N, "want": [sizes...], "pad": "..."},
// as long as the host's frame it stands for; the peer answers it with one
// frame of each wanted size ({"id", "k", "of", "pad"}, its JSON text that
// long), none when it wants none. Frames are read and answered in order,
// so the page need only wait for the last frame's answers. Of a large
// frame only the part before "pad" is parsed.
//
// Node, not C, because tests/bench/*.c is the host benchmark's; the peer's
// own work (a read, a small write) is a small part of what Chrome does
// with each frame, and the figure is a floor only if nothing is skipped.
import { Buffer } from 'node:buffer';

const SMALL = 64 * 1024;
/** Pads by length, built once: the same sizes come again every round. */
const pads = new Map();

/**
 * What is waiting to be written. Small frames go out together; a large
 * pad is written as it is, never copied, so that a 56 MB reply streams
 * to the browser frame by frame as the host's chunks do. Writes to a pipe
 * are synchronous in Node on Linux, as the echo peer's are.
 * @type {Buffer[]}
 */
const pending = [];
let pendingBytes = 0;

function flush() {
  if (!pending.length) return;
  process.stdout.write(pending.length === 1 ? pending[0] : Buffer.concat(pending));
  pending.length = 0;
  pendingBytes = 0;
}

function put(/** @type {Buffer} */ b) {
  if (b.length >= SMALL) {
    flush();
    process.stdout.write(b);
    return;
  }
  pending.push(b);
  pendingBytes += b.length;
  if (pendingBytes >= SMALL) flush();
}

/** A frame {"id":N,"k":K,"of":M,"pad":"xxx"} whose JSON text is `bytes` long (or as short as it gets). */
function sized(/** @type {number} */ id, /** @type {number} */ k, /** @type {number} */ of, /** @type {number} */ bytes) {
  const prefix = `{"id":${id},"k":${k},"of":${of},"pad":"`;
  const n = Math.max(0, bytes - prefix.length - 2);
  let pad = pads.get(n);
  if (pad === undefined) { pad = Buffer.alloc(n, 'x'); pads.set(n, pad); }
  const head = Buffer.alloc(4 + prefix.length);
  head.writeUInt32LE(prefix.length + n + 2, 0);
  head.write(prefix, 4, 'latin1');
  put(head);
  put(pad);
  put(Buffer.from('"}', 'latin1'));
}

/** The wanted sizes of a frame, parsing no more of it than comes before its pad. */
function wantOf(/** @type {Buffer} */ body) {
  if (body.length >= SMALL) {
    const cut = body.indexOf(',"pad":"');
    if (cut > 0) return JSON.parse(body.subarray(0, cut).toString('utf8') + '}');
  }
  return JSON.parse(body.toString('utf8'));
}

/** @param {Buffer} body */
function answer(body) {
  const msg = wantOf(body);
  const want = Array.isArray(msg.want) ? msg.want : [];
  want.forEach((/** @type {number} */ b, /** @type {number} */ k) => sized(msg.id, k, want.length, b));
}

/** What arrived and is not yet a whole frame, and how much a whole one needs. */
let parts = /** @type {Buffer[]} */ ([]);
let have = 0;
let need = 4;
process.stdin.on('data', (/** @type {Buffer} */ chunk) => {
  parts.push(chunk);
  have += chunk.length;
  if (have < need) return;
  // Joined once a frame is whole, not on every chunk of a large one.
  const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  let at = 0;
  for (;;) {
    if (buf.length - at < 4) { need = 4; break; }
    const len = buf.readUInt32LE(at);
    if (buf.length - at - 4 < len) { need = 4 + len; break; }
    answer(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  const rest = buf.subarray(at);
  parts = rest.length ? [rest] : [];
  have = rest.length;
  // The small answers to everything whole that arrived in one write, as
  // the host and the echo peer answer.
  flush();
});
process.stdin.on('end', () => process.exit(0));
