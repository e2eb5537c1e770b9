// SPDX-License-Identifier: MIT
// bench-data.js: what the in-browser benchmark stores and reads (bench.js):
// session states as the engine writes them, real .torrent files whose info
// dictionaries hash to their infohashes (so that the host's validating
// restore and summary accept them), whole sessions of either, and the
// bencode decoding a status page needs for its list. Seeded, so that every
// run stores the same bytes. Copied beside bench.js by run.js.

const enc = new TextEncoder();
const dec = new TextDecoder();


/** A small seeded generator, so that every run stores the same bytes. */
export function rng(/** @type {number} */ seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

/** @param {Uint8Array} bytes */
export function hex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** @param {Uint8Array[]} parts */
export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// ---------------------------------------------------------------- the data

/**
 * A session state as the engine writes it, whose JSON text is about
 * `bytes` long, or whose bitfield covers `pieces` pieces when given.
 * @param {() => number} rand
 * @param {number} bytes
 * @param {number} [pieces]
 */
export function makeState(rand, bytes, pieces) {
  const state = {
    userState: 'active', storageKey: 'default', queuePosition: Math.floor(rand() * 1000),
    bitfield: '', uploaded: Math.floor(rand() * 1e9), downloaded: Math.floor(rand() * 1e9),
    updatedAt: 1767225600000 + Math.floor(rand() * 1e9),
  };
  const digits = pieces !== undefined
    ? 2 * Math.ceil(pieces / 8)
    : Math.max(2, bytes - JSON.stringify(state).length) & ~1;
  // Part downloaded: whole bytes of pieces it has, then pieces still missing.
  const have = Math.floor(rand() * digits);
  let bf = '';
  for (let i = 0; i < digits; i++) bf += i < have ? 'f' : i === have ? '8' : '0';
  if (pieces !== undefined && pieces % 8) {
    // The spare bits after the last piece stay clear, as the engine keeps them.
    bf = bf.slice(0, -2) + '00';
  }
  state.bitfield = bf;
  return state;
}

/**
 * A real single-file .torrent of about `size` bytes, whose info dictionary
 * hashes to its infohash, so that the host's validating restore and
 * summary accept it.
 * @param {number} i
 * @param {number} size
 */
export async function makeTorrent(i, size) {
  const pieceLength = 16384;
  const name = `bench-torrent-${String(i).padStart(5, '0')}.iso`;
  const announce = 'http://tracker.invalid/announce';
  const pieceCount = Math.max(1, Math.floor((size - 160) / 20));
  const length = pieceCount * pieceLength - (i % pieceLength);
  const pieces = new Uint8Array(pieceCount * 20);
  for (let at = 0; at < pieces.length; at += 65536) {
    crypto.getRandomValues(pieces.subarray(at, Math.min(pieces.length, at + 65536)));
  }
  const info = concat([
    enc.encode(`d6:lengthi${length}e4:name${name.length}:${name}12:piece lengthi${pieceLength}e6:pieces${pieces.length}:`),
    pieces, enc.encode('e'),
  ]);
  const torrentFile = concat([enc.encode(`d8:announce${announce.length}:${announce}4:info`), info, enc.encode('e')]);
  const infoHash = hex(new Uint8Array(await crypto.subtle.digest('SHA-1', info)));
  return { infoHash, name, length, pieceCount, torrentFile };
}

/**
 * @typedef {object} SessionData
 * @property {any} index  the engine's index: version 2 and its entries
 * @property {{infoHash: string, state: any, torrentFile: Uint8Array | null}[]} torrents
 */

/**
 * W4a's session: magnet torrents whose metadata has not arrived (index and
 * states only). W4b's: file torrents with .torrent files of half to one and
 * a half times `fileAvg` bytes.
 * @param {{torrents: number, stateBytes: number, torrentfileAvg: number}} config
 * @param {boolean} withFiles
 * @returns {Promise<SessionData>}
 */
export async function makeSession(config, withFiles) {
  const rand = rng(withFiles ? 4242 : 4141);
  const torrents = [];
  const entries = [];
  for (let i = 0; i < config.torrents; i++) {
    if (withFiles) {
      const size = Math.floor(config.torrentfileAvg / 2 + rand() * config.torrentfileAvg);
      const t = await makeTorrent(i, size);
      torrents.push({ infoHash: t.infoHash, state: makeState(rand, 0, t.pieceCount), torrentFile: t.torrentFile });
      entries.push({ infoHash: t.infoHash, source: 'file', addedAt: 1767225600000 + i * 1000 });
    } else {
      const infoHash = hex(new Uint8Array(await crypto.subtle.digest('SHA-1', enc.encode(`bench-torrent-${i}`))));
      torrents.push({ infoHash, state: makeState(rand, config.stateBytes), torrentFile: null });
      entries.push({ infoHash, source: 'magnet', magnetUri: `magnet:?xt=urn:btih:${infoHash}`, addedAt: 1767225600000 + i * 1000 });
    }
  }
  return { index: { version: 2, torrents: entries }, torrents };
}


// ------------------------------------------------------ bencode, for the list

/**
 * A bencode decoder, enough for a status page to read a .torrent: dict keys
 * as Latin-1 strings, byte strings as subarrays, integers as numbers.
 * @param {Uint8Array} b
 */
export function bdecode(b) {
  let i = 0;
  /** @returns {any} */
  const value = () => {
    const c = b[i];
    if (c === 0x69) { // i<n>e
      const end = b.indexOf(0x65, i);
      const n = Number(dec.decode(b.subarray(i + 1, end)));
      i = end + 1;
      return n;
    }
    if (c === 0x6c) { // l...e
      i++;
      const list = [];
      while (b[i] !== 0x65) { if (i >= b.length) throw new Error('bencode: a list runs off the end'); list.push(value()); }
      i++;
      return list;
    }
    if (c === 0x64) { // d...e
      i++;
      /** @type {Record<string, any>} */
      const dict = {};
      while (b[i] !== 0x65) {
        if (i >= b.length) throw new Error('bencode: a dictionary runs off the end');
        const k = value();
        dict[String.fromCharCode(...k)] = value();
      }
      i++;
      return dict;
    }
    const colon = b.indexOf(0x3a, i); // <len>:<bytes>
    if (colon < 0) throw new Error(`bencode: unexpected byte ${c} at ${i}`);
    const len = Number(dec.decode(b.subarray(i, colon)));
    i = colon + 1 + len;
    if (i > b.length) throw new Error('bencode: a string runs off the end');
    return b.subarray(colon + 1, i);
  };
  const v = value();
  if (i !== b.length) throw new Error('bencode: bytes after the value');
  return v;
}

/** The share of pieces a hex bitfield has. */
export function progressOf(/** @type {string} */ bitfield, /** @type {number} */ pieces) {
  let have = 0;
  for (let i = 0; i < bitfield.length; i++) {
    let v = parseInt(bitfield[i], 16);
    while (v) { have += v & 1; v >>= 1; }
  }
  return pieces ? have / pieces : 0;
}

