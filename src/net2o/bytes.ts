// Byte helpers: a bounds-checked reader and a growable writer. Reader errors are WireError, never untyped.
import { WireError } from './errors.ts';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new WireError('truncated', `need ${n} bytes at ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** QUIC variable-length integer (RFC 9000 §16), limited to 2^53 − 1 so it stays a JS number. */
  varint(): number {
    const first = this.u8();
    const len = 1 << (first >> 6);
    let v = first & 0x3f;
    this.need(len - 1);
    for (let i = 1; i < len; i++) v = v * 256 + this.buf[this.pos++]!;
    if (!Number.isSafeInteger(v)) throw new WireError('range', 'varint beyond 2^53');
    return v;
  }
  varBytes(max: number): Uint8Array {
    const n = this.varint();
    if (n > max) throw new WireError('range', `length ${n} > ${max}`);
    return this.bytes(n);
  }
  string(max: number): string {
    try {
      return textDecoder.decode(this.varBytes(max));
    } catch (e) {
      if (e instanceof WireError) throw e;
      throw new WireError('encoding', 'invalid UTF-8');
    }
  }
}

export class Writer {
  private buf: Uint8Array;
  len = 0;
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number): this {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint ${v}`);
    const len = varintLength(v);
    this.room(len);
    let x = v;
    for (let i = len - 1; i >= 0; i--) {
      this.buf[this.len + i] = x % 256;
      x = Math.floor(x / 256);
    }
    this.buf[this.len] = this.buf[this.len]! | ((31 - Math.clz32(len)) << 6);
    this.len += len;
    return this;
  }
  varBytes(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }
  string(s: string): this {
    return this.varBytes(textEncoder.encode(s));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export function varintLength(v: number): number {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x4000_0000) return 4;
  return 8;
}

export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
