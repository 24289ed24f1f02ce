// Decoding hostile bytes may fail only with a WireError (a typed, counted rejection), never anything else.
import { expect } from 'vitest';
import { WireError, type WireErrorCode } from '../../src/net2o/errors.ts';

/** Runs f and returns the WireError's code; fails on success or on any other thrown type. */
export function wireCode(f: () => unknown): WireErrorCode {
  try {
    f();
  } catch (e) {
    if (!(e instanceof WireError)) throw new Error(`expected WireError, got ${String(e)}`);
    return e.code;
  }
  throw new Error('expected a WireError, decoding succeeded');
}

/** Runs f; it may return, or throw a WireError, and nothing else. */
export function onlyWireError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
  }
}
