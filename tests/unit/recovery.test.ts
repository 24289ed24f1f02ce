// Loss recovery: acks, RTT samples, packet- and time-threshold loss, the probe timeout.
import { describe, expect, it } from 'vitest';
import { MAX_PTO_MS, PACKET_THRESHOLD } from '../../src/net2o/constants.ts';
import { Recovery, type SentPacket } from '../../src/net2o/recovery.ts';

const pkt = (pn: number, time: number, pathId = 1): SentPacket => ({ pn, time, pathId, size: 100, ackEliciting: true, chunks: [] });

function sendAll(r: Recovery, pns: number[], t0 = 0, spacing = 1): void {
  for (const pn of pns) r.onSent(pkt(pn, t0 + (pn - pns[0]!) * spacing));
}

describe('Recovery', () => {
  it('takes an RTT sample from the largest newly acked packet, also when the ack range is long', () => {
    const r = new Recovery();
    sendAll(r, [1000, 1001, 1002], 0, 1);
    // One range from 1 to 1002: longer than what is in flight (the common case: everything since the start).
    const out = r.onAck([[1, 1002]], 0, 52);
    expect(out.acked.map((s) => s.pn)).toEqual([1000, 1001, 1002]);
    expect(out.rttSample?.packet.pn).toBe(1002);
    expect(out.rttSample?.sampleMs).toBe(50);
    expect(r.rtt.samples).toBe(1);
    expect(r.rtt.smoothed).toBe(50);
    expect(r.bytesInFlight).toBe(0);
    expect(r.inFlightCount).toBe(0);
  });

  it('caps the peer-reported ack delay at MAX_ACK_DELAY_MS and ignores a sample for a non-largest ack', () => {
    const r = new Recovery();
    sendAll(r, [1, 2, 3], 0, 10);
    const a = r.onAck([[3, 3]], 1_000, 60);
    expect(a.rttSample?.ackDelayMs).toBeLessThanOrEqual(5);
    const b = r.onAck([[2, 3]], 0, 70); // 2 is below the largest already acked: no new sample
    expect(b.rttSample).toBeNull();
    expect(r.rtt.samples).toBe(1);
  });

  it.each([
    // [sent, acked range, lost by packet threshold: largest − pn ≥ 3, as RFC 9002 §6.1.1]
    [[1, 2, 3, 4, 5], [5, 5], [1, 2]],
    [[1, 2, 3, 4, 5, 6], [6, 6], [1, 2, 3]],
    [[1, 2, 3, 4], [4, 4], [1]],
    [[1, 2, 3], [3, 3], []],
  ])('packet threshold: sent %j, ack %j → lost %j', (sent, range, lost) => {
    const r = new Recovery();
    sendAll(r, sent, 0, 0); // same send time: only the packet threshold can declare loss
    const out = r.onAck([[range[0]!, range[1]!]], 0, 1);
    expect(out.lost.map((s) => s.pn)).toEqual(lost);
    expect(PACKET_THRESHOLD).toBe(3);
  });

  it('time threshold: a packet 9/8 RTT older than an acked one is lost at its deadline, not before', () => {
    const r = new Recovery();
    r.onSent(pkt(1, 0));
    r.onSent(pkt(2, 100));
    const out = r.onAck([[2, 2]], 0, 200); // RTT 100 → delay 112.5 ms; packet 1 sent at 0: lost at 112.5
    expect(out.lost.map((s) => s.pn)).toEqual([1]);
    const r2 = new Recovery();
    r2.onSent(pkt(1, 150));
    r2.onSent(pkt(2, 160));
    const o2 = r2.onAck([[2, 2]], 0, 210); // RTT 50 → delay 56.25: packet 1 due at 206.25 ≤ 210
    expect(o2.lost.map((s) => s.pn)).toEqual([1]);
    const r3 = new Recovery();
    r3.onSent(pkt(1, 190));
    r3.onSent(pkt(2, 191));
    const o3 = r3.onAck([[2, 2]], 0, 241); // RTT 50: packet 1 due at 246.25 > 241: not yet
    expect(o3.lost).toEqual([]);
    expect(r3.lossTime).toBeCloseTo(246.25);
    expect(r3.detectLoss(246.25).map((s) => s.pn)).toEqual([1]); // exactly at the deadline: progress
  });

  it('the probe timeout backs off, is capped, and resets on any acknowledgement', () => {
    const r = new Recovery();
    r.onSent(pkt(1, 0));
    r.onSent(pkt(2, 0));
    const first = r.ptoDeadline();
    expect(r.onPto(first)?.pn).toBe(1);
    const second = r.ptoDeadline() - first;
    expect(second).toBeGreaterThan(first); // doubled
    for (let i = 0; i < 20; i++) r.onPto(r.ptoDeadline() - 1);
    expect(r.ptoCount).toBeGreaterThan(10);
    r.onSent(pkt(3, 5_000));
    expect(r.ptoDeadline() - 5_000).toBeLessThanOrEqual(MAX_PTO_MS);
    r.onAck([[3, 3]], 0, 5_010);
    expect(r.ptoCount).toBe(0);
    expect(r.ptoDeadline()).toBe(Infinity); // nothing in flight
  });

  it('oldestInFlight follows sends, acks and takes per path', () => {
    const r = new Recovery();
    r.onSent(pkt(1, 10, 1));
    r.onSent(pkt(2, 20, 2));
    r.onSent(pkt(3, 30, 1));
    expect([r.oldestInFlight(1), r.oldestInFlight(2), r.oldestInFlight(9)]).toEqual([10, 20, null]);
    r.onAck([[1, 1]], 0, 40);
    expect(r.oldestInFlight(1)).toBe(30);
    expect(r.take((s) => s.pathId === 2).map((s) => s.pn)).toEqual([2]);
    expect(r.oldestInFlight(2)).toBeNull();
  });
});
