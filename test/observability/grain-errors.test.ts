/**
 * Grain exceptions in the silo's log: logged once, at warn, on the silo that hosts the grain
 * that threw (type, key, method, error name, message, stack, trace id), whether the exception
 * passes up through a grain on the same silo or on another; a caught one is not logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, memoryCluster } from '../../index.js';
import { jsonLogger, prettyLine } from '../../silo/log.js';
import { Back, Front } from './grains.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: jsonLogger({ level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}
const failures = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'grain call failed');

describe('grain exceptions in the log', () => {
  const cluster = memoryCluster();
  const one = capture();
  const front = capture();
  const back = capture();
  let local: Silo;
  let frontSilo: Silo;
  let backSilo: Silo;
  let client: GrainClient;
  beforeAll(async () => {
    local = await Silo.start({ grains: [Front, Back], logger: one.logger, gateway: { port: 0, host: '127.0.0.1' } });
    frontSilo = await Silo.start({ grains: [Front], cluster, logger: front.logger });
    backSilo = await Silo.start({ grains: [Back], cluster, logger: back.logger });
    client = await GrainClient.connect({ cluster });
  });
  afterAll(async () => {
    await client?.close();
    for (const s of [local, frontSilo, backSilo]) await s?.stop();
  });

  it('is logged once where it was thrown, with type, key, method, name, message and stack', async () => {
    await expect(local.getGrain(Front, 'a').relayFail('b', 'out of range')).rejects.toThrow('out of range');
    const lines = failures(one.lines);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn', grain: 'Back/b', type: 'Back', key: 'b', method: 'fail', error: 'RangeError',
      message: 'out of range', silo: local.id,
    });
    expect(String(lines[0]!.stack)).toContain('Back.fail');
    expect(local.recentErrors.list().at(-1)).toMatchObject({ type: 'Back', method: 'fail', error: 'RangeError' });
  });

  it('crossing silos, only the silo that hosts the thrower logs it', async () => {
    await expect(client.getGrain<Front>('Front', 'x').relayFail('y', 'remote')).rejects.toThrow('remote');
    expect(failures(back.lines)).toHaveLength(1);
    expect(failures(back.lines)[0]).toMatchObject({ type: 'Back', key: 'y', method: 'fail', error: 'RangeError', message: 'remote', silo: backSilo.id });
    expect(failures(front.lines)).toHaveLength(0);
  });

  it('an exception the calling grain catches is logged where it was thrown only', async () => {
    const before = failures(back.lines).length;
    expect(await client.getGrain<Front>('Front', 'z').swallow('w')).toBe('caught');
    expect(failures(back.lines)).toHaveLength(before + 1);
    expect(failures(front.lines)).toHaveLength(0);
  });

  it('carries the trace id of an incoming traceparent, with no SDK registered', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${local.gateway!.url}/grains/Back/t/fail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: JSON.stringify({ args: ['traced'] }),
    });
    expect(res.status).toBe(500);
    const line = failures(one.lines).find((l) => l.message === 'traced');
    expect(line).toMatchObject({ trace_id: traceId, type: 'Back', key: 't', method: 'fail' });
  });
});

describe('GRANARY_LOG_FORMAT=pretty', () => {
  it('writes one readable line per record, the stack indented below', () => {
    const line = prettyLine({ time: '2026-01-02T03:04:05.678Z', level: 'warn', msg: 'grain call failed', type: 'Back', message: 'two words', stack: 'RangeError: x\n    at f' });
    expect(line.split('\n')[0]).toBe('03:04:05.678 WARN  grain call failed  type=Back message="two words"');
    expect(line.split('\n').slice(1)).toEqual(['    RangeError: x', '    at f']);
    const lines: string[] = [];
    jsonLogger({ format: 'pretty', write: (l) => lines.push(l) }).info('hello', { a: 1 });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  hello  a=1$/);
  });
});
