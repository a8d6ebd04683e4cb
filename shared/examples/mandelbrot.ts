// A WebAssembly Mandelbrot kernel, assembled here byte by byte (issue 16: the
// example and benchmark kernel of runtime envs, with no toolchain to fetch).
// Its one export, in WAT terms:
//
//   (func (export "tile") (param $x0 f64) (param $y0 f64) (param $dx f64) (param $dy f64)
//                         (param $w i32) (param $h i32) (param $max i32) (result i32)
//
// iterates z = z² + c for each of the w×h points c = (x0 + px·dx, y0 + py·dy)
// until |z| > 2 or $max iterations, and returns the sum of the iteration
// counts: a number that depends on every point, cheap to check.

const F64 = 0x7c;
const I32 = 0x7f;

// Opcodes used below.
const BLOCK = 0x02,
  LOOP = 0x03,
  END = 0x0b,
  BR = 0x0c,
  BR_IF = 0x0d;
const GET = 0x20,
  SET = 0x21;
const I32_CONST = 0x41,
  F64_CONST = 0x44;
const I32_GE_S = 0x4e,
  I32_ADD = 0x6a;
const F64_GT = 0x64,
  F64_ADD = 0xa0,
  F64_SUB = 0xa1,
  F64_MUL = 0xa2,
  F64_FROM_I32 = 0xb7;
const VOID = 0x40;

// Parameters 0-6, then locals: 4 × i32, 5 × f64.
const X0 = 0,
  Y0 = 1,
  DX = 2,
  DY = 3,
  W = 4,
  H = 5,
  MAX = 6;
const PX = 7,
  PY = 8,
  I = 9,
  SUM = 10,
  CX = 11,
  CY = 12,
  ZX = 13,
  ZY = 14,
  T = 15;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function f64(x: number): number[] {
  return Array.from(new Uint8Array(new Float64Array([x]).buffer));
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const b = Array.from(new TextEncoder().encode(s));
  return [...uleb(b.length), ...b];
}

/** The kernel's body: for py, for px, iterate; sum the counts. */
function body(): number[] {
  const g = (i: number) => [GET, i];
  const s = (i: number) => [SET, i];
  const inc = (i: number) => [...g(i), I32_CONST, 1, I32_ADD, ...s(i)];
  return [
    ...[I32_CONST, 0],
    ...s(SUM),
    ...[I32_CONST, 0],
    ...s(PY),
    BLOCK,
    VOID,
    LOOP,
    VOID, // rows
    ...g(PY),
    ...g(H),
    I32_GE_S,
    BR_IF,
    1,
    ...g(Y0),
    ...g(PY),
    F64_FROM_I32,
    ...g(DY),
    F64_MUL,
    F64_ADD,
    ...s(CY),
    ...[I32_CONST, 0],
    ...s(PX),
    BLOCK,
    VOID,
    LOOP,
    VOID, // columns
    ...g(PX),
    ...g(W),
    I32_GE_S,
    BR_IF,
    1,
    ...g(X0),
    ...g(PX),
    F64_FROM_I32,
    ...g(DX),
    F64_MUL,
    F64_ADD,
    ...s(CX),
    F64_CONST,
    ...f64(0),
    ...s(ZX),
    F64_CONST,
    ...f64(0),
    ...s(ZY),
    ...[I32_CONST, 0],
    ...s(I),
    BLOCK,
    VOID,
    LOOP,
    VOID, // iterations
    ...g(I),
    ...g(MAX),
    I32_GE_S,
    BR_IF,
    1,
    ...g(ZX),
    ...g(ZX),
    F64_MUL,
    ...g(ZY),
    ...g(ZY),
    F64_MUL,
    F64_ADD,
    F64_CONST,
    ...f64(4),
    F64_GT,
    BR_IF,
    1,
    ...g(ZX),
    ...g(ZX),
    F64_MUL,
    ...g(ZY),
    ...g(ZY),
    F64_MUL,
    F64_SUB,
    ...g(CX),
    F64_ADD,
    ...s(T),
    F64_CONST,
    ...f64(2),
    ...g(ZX),
    F64_MUL,
    ...g(ZY),
    F64_MUL,
    ...g(CY),
    F64_ADD,
    ...s(ZY),
    ...g(T),
    ...s(ZX),
    ...inc(I),
    BR,
    0,
    END,
    END,
    ...g(SUM),
    ...g(I),
    I32_ADD,
    ...s(SUM),
    ...inc(PX),
    BR,
    0,
    END,
    END,
    ...inc(PY),
    BR,
    0,
    END,
    END,
    ...g(SUM),
    END,
  ];
}

/** The kernel's WebAssembly binary. */
export function mandelbrotWasm(): Uint8Array {
  const type = [0x60, ...vec([[F64], [F64], [F64], [F64], [I32], [I32], [I32]]), ...vec([[I32]])];
  const locals = vec([
    [4, I32],
    [5, F64],
  ]);
  const code = [...locals, ...body()];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([type])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('tile'), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

/** One tile of the picture [-2, 1] × [-1.5, 1.5] cut in `tiles` × `tiles`, each `size` × `size` points. */
export function tileArgs(index: number, tiles: number, size: number): [number, number, number, number, number, number] {
  const step = 3 / (tiles * size);
  const tx = index % tiles;
  const ty = Math.floor(index / tiles);
  return [-2 + tx * size * step, -1.5 + ty * size * step, step, step, size, size];
}

/** The same computation in JavaScript, to check the kernel against. */
export function mandelbrotTileJs(x0: number, y0: number, dx: number, dy: number, w: number, h: number, max: number): number {
  let sum = 0;
  for (let py = 0; py < h; py++) {
    const cy = y0 + py * dy;
    for (let px = 0; px < w; px++) {
      const cx = x0 + px * dx;
      let zx = 0,
        zy = 0,
        i = 0;
      while (i < max && zx * zx + zy * zy <= 4) {
        const t = zx * zx - zy * zy + cx;
        zy = 2 * zx * zy + cy;
        zx = t;
        i++;
      }
      sum += i;
    }
  }
  return sum;
}
