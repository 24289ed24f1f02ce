// RFC 6479 anti-replay window over a ring of 32-bit blocks (after wireguard-go's replay/replay.go).
// check() is pure; update() is called only after the packet authenticated.
import { REPLAY_BLOCK_BITS, REPLAY_BLOCKS, REPLAY_WINDOW } from './constants.ts';

const BLOCK_MASK = REPLAY_BLOCKS - 1;
const BIT_MASK = REPLAY_BLOCK_BITS - 1;

export class ReplayWindow {
  private readonly ring = new Uint32Array(REPLAY_BLOCKS);
  private last = -1; // highest accepted counter; -1 before the first

  get highest(): number {
    return this.last;
  }

  /** Would `counter` be fresh? Does not record it. */
  check(counter: number): boolean {
    if (counter < 0) return false;
    if (counter > this.last) return true;
    if (this.last - counter >= REPLAY_WINDOW) return false; // too old
    const block = Math.floor(counter / REPLAY_BLOCK_BITS) & BLOCK_MASK;
    return (this.ring[block]! & (1 << (counter & BIT_MASK))) === 0;
  }

  exportState(): { last: number; ring: Uint32Array } {
    return { last: this.last, ring: this.ring.slice() };
  }

  importState(st: { last: number; ring: Uint32Array }): void {
    this.last = st.last;
    this.ring.set(st.ring);
  }

  /** Records `counter`; returns false (and records nothing) if it was not fresh. */
  update(counter: number): boolean {
    if (!this.check(counter)) return false;
    if (counter > this.last) {
      const cur = this.last < 0 ? -1 : Math.floor(this.last / REPLAY_BLOCK_BITS);
      const next = Math.floor(counter / REPLAY_BLOCK_BITS);
      const diff = Math.min(next - cur, REPLAY_BLOCKS);
      for (let i = 1; i <= diff; i++) this.ring[(cur + i) & BLOCK_MASK] = 0;
      this.last = counter;
    }
    const block = Math.floor(counter / REPLAY_BLOCK_BITS) & BLOCK_MASK;
    this.ring[block] = this.ring[block]! | (1 << (counter & BIT_MASK));
    return true;
  }
}

export { REPLAY_WINDOW };
