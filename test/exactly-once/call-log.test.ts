// The call record's own rules (runtime/call-log.ts): what it keeps, how it is written and read
// back. The behaviour it gives grains is tested on every host in the other files here.
import { describe, expect, it } from 'vitest';
import { CALL_LOG_SIZE, CallLog, parseStoredPayload, storedPayload } from 'granary/internal';

const reread = (log: CallLog) => CallLog.parse(log.text());
const answer = (log: CallLog, id: string) => log.outcome(id, {}, 'Test/x.m');

/** Writes and completes `id` with `value`, as a call's turn does. */
function record(log: CallLog, id: string, value: unknown, prev: string | null = '{"n":0}'): void {
  log.writing(id, prev);
  log.complete(id, { ok: true, value });
}

describe('call record', () => {
  it('reads back every kind of id and outcome as written', () => {
    const ids = [
      'k3J4h5g6f7d0', 'k3J4h5g6f7d1', 'k3J4h5g6f7dz', 'k3J4h5g6f7d10', 'k3J4h5g6f7d100', // a process's counter
      'k3J4h5g6f7d1a.0', 'k3J4h5g6f7d1a.0.3', // derived
      'key:add:order "7", é', 'key:add:order "7", éé', // from an Idempotency-Key: quotes, commas, non-ASCII
      'hq2x1.9zz', 'zzzzzzzzzzzz', '0000', 'x0', 'ABC', '', // long base-36 suffix, leading zeros, upper case, empty
    ];
    const log = new CallLog();
    ids.forEach((id, i) => record(log, id, { i, text: `v${i}` }));
    log.writing('failing', null);
    log.complete('failing', { ok: false, error: Object.assign(new Error('no'), { code: 'bad' }) });
    log.writing('open-call', '{"n":4}');
    const back = reread(log);
    expect(back.ids()).toEqual([...ids, 'failing', 'open-call']);
    ids.forEach((id, i) => expect(answer(back, id)).toEqual({ ok: true, value: { i, text: `v${i}` } }));
    expect(answer(back, 'failing')).toMatchObject({ ok: false });
    expect(back.replayOf('open-call')).toEqual({ writes: 1, prev: '{"n":4}', overtaken: false });
    expect(back.text()).toBe(log.text());
  });

  it('front-codes ids: a counter id costs a few characters and no quotes', () => {
    const log = new CallLog();
    for (let i = 0; i < 40; i++) record(log, `k3J4h5g6f7d${(1000 + i * 37).toString(36)}`, i);
    const text = log.text();
    expect(text.startsWith('[0,"k3J4h5g6f7drs",0,0,11,')).toBe(true);
    expect(text.match(/"/g)).toHaveLength(2); // only the first id is a string
    expect(text.length).toBeLessThan(40 * 13); // whole, each would be `"k3J4h5g6f7drs",0,1`: 20
  });

  it(`keeps the newest ${CALL_LOG_SIZE} completed calls, and open ones however old`, () => {
    const log = new CallLog();
    log.writing('still-open', null);
    for (let i = 0; i < CALL_LOG_SIZE + 50; i++) {
      record(log, `p${i}`, i);
      // Every trim rewrites which entry comes first: the text must read back the same each time.
      if (i % 7 === 0) expect(reread(log).ids()).toEqual(log.ids());
    }
    const back = reread(log);
    expect(back.size).toBe(CALL_LOG_SIZE);
    expect(back.has('still-open')).toBe(true);
    expect(back.has('p50')).toBe(false);
    expect(back.ids().slice(0, 2)).toEqual(['p51', 'p52']);
    expect(answer(back, `p${CALL_LOG_SIZE + 49}`)).toEqual({ ok: true, value: CALL_LOG_SIZE + 49 });
  });

  it('marks a call whose host died as overtaken once another call writes, and keeps the mark in storage', () => {
    const log = new CallLog();
    log.writing('died', '{"n":1}');
    const loaded = reread(log); // a new activation: 'died' is open, its host gone
    expect(loaded.replayOf('died')).toEqual({ writes: 1, prev: '{"n":1}', overtaken: false });
    loaded.writing('next', '{"n":6}');
    expect(loaded.replayOf('died')).toEqual({ writes: 1, prev: '{"n":1}', overtaken: true });
    expect(reread(loaded).replayOf('died')).toEqual({ writes: 1, prev: '{"n":1}', overtaken: true });
  });

  it('reads records stored before ids were front-coded (#calls2)', () => {
    const payload = '#calls2\n["a1",0,5,"a2",3,{"code":"bad","message":"no"},"a3",2,1,"{\\"n\\":1}",0]\n{"n":2}';
    const { state, log } = parseStoredPayload(payload);
    expect(state).toBe('{"n":2}');
    expect(log!.ids()).toEqual(['a1', 'a2', 'a3']);
    expect(answer(log!, 'a1')).toEqual({ ok: true, value: 5 });
    expect(log!.replayOf('a3')).toEqual({ writes: 1, prev: '{"n":1}', overtaken: false });
    expect(storedPayload(state, log)!.startsWith('#calls3\n[0,361,0,5,1,2,3,')).toBe(true);
  });

  it('refuses a malformed record instead of guessing', () => {
    expect(() => CallLog.parse('[5,"x",0,1]')).toThrow(/malformed/); // shares more than the previous id has
    expect(() => CallLog.parse('[0,"x",0,1,0,"x",0,2]')).toThrow(/malformed/); // one id twice
    expect(() => CallLog.parse('{"x":1}')).toThrow(/not an array/);
  });
});
