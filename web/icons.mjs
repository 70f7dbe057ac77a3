// The app icon, drawn here (no image files to fetch): a blue rounded square with a white anvil-like
// "F". svgIcon() for browsers that take SVG, pngIcon(size, maskable) for the PWA manifest.
import zlib from "node:zlib";

const BG = [29, 78, 216]; // #1d4ed8
const FG = [255, 255, 255];
// The glyph on a 16-unit grid: [x, y, w, h] rectangles of the letter F plus a base bar.
const GLYPH = [
  [4, 3, 9, 2.5],
  [4, 3, 2.5, 10],
  [4, 7.2, 6.5, 2.3],
  [3, 12.2, 10, 1.3],
];

export function svgIcon() {
  const rects = GLYPH.map(([x, y, w, h]) => `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="#fff"/>`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3.2" fill="#1d4ed8"/>${rects}</svg>`;
}

const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** RGBA PNG of the icon; maskable icons keep the glyph inside the 80 % safe zone on a full bleed. */
export function pngIcon(size, maskable = false) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  const scale = maskable ? 0.7 : 1;
  const off = ((1 - scale) * 16) / 2;
  const radius = maskable ? 0 : 3.2;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const u = ((x + 0.5) / size) * 16;
      const v = ((y + 0.5) / size) * 16;
      // rounded-corner mask
      const cx = Math.min(Math.max(u, radius), 16 - radius);
      const cy = Math.min(Math.max(v, radius), 16 - radius);
      const inside = radius === 0 || (u - cx) ** 2 + (v - cy) ** 2 <= radius * radius;
      const gu = (u - off) / scale;
      const gv = (v - off) / scale;
      const glyph = GLYPH.some(([gx, gy, gw, gh]) => gu >= gx && gu < gx + gw && gv >= gy && gv < gy + gh);
      const c = glyph ? FG : BG;
      const i = y * (size * 4 + 1) + 1 + x * 4;
      raw[i] = c[0];
      raw[i + 1] = c[1];
      raw[i + 2] = c[2];
      raw[i + 3] = inside ? 255 : 0;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
