import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrreryError } from '../../core/errors.ts';
import { CsvProvider, parseCsvBars, splitCsvLine, type CsvProblem } from '../../adapters/providers/csv.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orrery-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEADER = 'ts_utc,symbol,timeframe,open,high,low,close,volume';
const req = (symbol: string, tf = '1h', start = '2024-03-01T00:00:00Z', end = '2024-03-02T00:00:00Z') => ({ symbol, timeframe: tf, start: new Date(start), end: new Date(end), ingestRunId: 'run-csv' });

async function problemsOf(p: Promise<unknown>): Promise<CsvProblem[]> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OrreryError);
    expect((e as OrreryError).errorId).toBe('DATA_CSV_SCHEMA');
    return (e as OrreryError).details.problems as CsvProblem[];
  }
  throw new Error('expected DATA_CSV_SCHEMA');
}

describe('splitCsvLine', () => {
  it('handles quotes and empty fields', () => {
    expect(splitCsvLine('a,"b,c",,"d""e"')).toEqual(['a', 'b,c', '', 'd"e']);
    expect(splitCsvLine('a,')).toEqual(['a', '']);
    expect(splitCsvLine('"open')).toBeNull();
  });
});

describe('CsvProvider', () => {
  it('reads a file: canonical bars, null volume, CRLF, quoted fields, any column order', async () => {
    const file = join(dir, 'one.csv');
    await writeFile(
      file,
      [
        'symbol,ts_utc,timeframe,open,high,low,close,volume',
        'XAUUSD,2024-03-01T01:00:00Z,1h,2050.5,2052,2049,2051.25,',
        '"XAUUSD",2024-03-01T00:00:00.000Z,1h,2050,2051,2049.5,2050.5,120',
        'XAUUSD,2024-03-01T02:00:00+00:00,1h,2051.25,2053,2051,2052,0',
        'EURUSD,2024-03-01T00:00:00Z,4h,1.08,1.09,1.07,1.085,',
        '',
      ].join('\r\n'),
    );
    const p = new CsvProvider({ path: file, assetClasses: { XAUUSD: 'CFD', EURUSD: 'FX' } });
    const bars = await p.fetchTimeSeries(req('XAUUSD'));
    expect(bars.map((b) => [b.ts_utc, b.close, b.volume])).toEqual([
      ['2024-03-01T00:00:00.000Z', 2050.5, 120],
      ['2024-03-01T01:00:00.000Z', 2051.25, null],
      ['2024-03-01T02:00:00.000Z', 2052, 0],
    ]);
    expect(bars[0]).toMatchObject({ symbol: 'XAUUSD', timeframe: '1h', source_id: 'csv', ingest_run_id: 'run-csv', quality_flag: 'ok' });
    expect(bars[0].metadata).toMatchObject({ source_file: 'one.csv', source_line: 3 });
    expect(await p.fetchTimeSeries({ ...req('XAUUSD'), start: new Date('2024-03-01T00:30:00Z'), limit: 1 })).toHaveLength(1);
    expect((await p.fetchTimeSeries(req('XAUUSD', '4h'))).length).toBe(0);
    expect(await p.listSymbols({ assetClass: 'FX' })).toEqual([{ symbol: 'EURUSD', assetClass: 'FX', sourceSymbol: 'EURUSD' }]);
    await expect(p.fetchTimeSeries(req('GBPUSD'))).rejects.toMatchObject({ errorId: 'DATA_SYMBOL_UNKNOWN' });
    expect((await p.healthCheck()).status).toBe('ok');
  });

  it('reads every .csv file of a directory and rejects duplicates across files with both lines', async () => {
    const d = join(dir, 'many');
    await mkdir(d);
    await writeFile(join(d, '2024-03.csv'), `${HEADER}\n2024-03-01T00:00:00Z,XAGUSD,1h,23,23.2,22.9,23.1,\n`);
    await writeFile(join(d, '2024-04.csv'), `${HEADER}\n2024-04-01T00:00:00Z,XAGUSD,1h,24,24.2,23.9,24.1,\n`);
    await writeFile(join(d, 'notes.txt'), 'ignored');
    const p = new CsvProvider({ path: d, id: 'csv_archive' });
    const bars = await p.fetchTimeSeries(req('XAGUSD', '1h', '2024-01-01T00:00:00Z', '2024-05-01T00:00:00Z'));
    expect(bars.map((b) => b.ts_utc)).toEqual(['2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z']);
    expect(bars[0].source_id).toBe('csv_archive');

    await writeFile(join(d, '2024-05.csv'), `${HEADER}\n\n2024-03-01T00:00:00Z,XAGUSD,1h,23,23.2,22.9,23.1,\n`);
    p.reload();
    const problems = await problemsOf(p.fetchTimeSeries(req('XAGUSD')));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 3, column: 'ts_utc' });
    expect(problems[0].file).toMatch(/2024-05\.csv$/);
    expect(problems[0].message).toMatch(/duplicate bar .*also at .*2024-03\.csv:2/);
  });

  it('rejects bad rows with file:line in the message', async () => {
    const file = join(dir, 'bad.csv');
    await writeFile(
      file,
      [
        HEADER,
        '2024-03-01T00:00:00Z,XAUUSD,1h,2050,2051,2049,2050.5,', // 2 ok
        '2024-03-01T01:00:00Z,XAUUSD,1h,2050,2051,2049,abc,', // 3 close not a number
        '2024-03-01 02:00:00,XAUUSD,1h,2050,2051,2049,2050,', // 4 ts not RFC3339
        '2024-03-01T03:30:00Z,XAUUSD,1h,2050,2051,2049,2050,', // 5 not a 1h bar start
        '2024-03-01T04:00:00+09:00,XAUUSD,1h,2050,2051,2049,2050,', // 6 not UTC
        '2024-03-01T05:00:00Z,xau/usd,1h,2050,2051,2049,2050,', // 7 symbol not canonical
        '2024-03-01T06:00:00Z,XAUUSD,5m,2050,2051,2049,2050,', // 8 timeframe unknown
        '2024-03-01T07:00:00Z,XAUUSD,1h,2050,2051,2049', // 9 field count
        '2024-03-01T08:00:00Z,XAUUSD,1h,2050,2051,2050.6,2050.5,', // 10 low above close
        '2024-03-01T09:00:00Z,XAUUSD,1h,2050,2050.2,2049,2050.5,', // 11 high below close
        '2024-03-01T10:00:00Z,XAUUSD,1h,2050,2051,2049,2050,-5', // 12 negative volume
        '2024-03-01T11:00:00Z,XAUUSD,1h,0,2051,2049,2050,', // 13 open not > 0
        '2024-03-01T12:00:00Z,XAUUSD,1h,2050,2051,2049,1e400,', // 14 not finite
      ].join('\n'),
    );
    let message = '';
    const problems = await problemsOf(
      new CsvProvider({ path: file }).fetchTimeSeries(req('XAUUSD')).catch((e: unknown) => {
        message = (e as Error).message;
        throw e;
      }),
    );
    expect(problems.map((p) => [p.line, p.column])).toEqual([
      [3, 'close'],
      [4, 'ts_utc'],
      [5, 'ts_utc'],
      [6, 'ts_utc'],
      [7, 'symbol'],
      [8, 'timeframe'],
      [9, undefined],
      [10, 'low'],
      [11, 'high'],
      [12, 'volume'],
      [13, 'open'],
      [14, 'close'],
    ]);
    expect(message).toContain('bad.csv:3: close:');
    expect(message).toContain('bad.csv:9: has 6 fields');
  });

  it('requires the exact header', () => {
    expect(parseCsvBars('2024-03-01T00:00:00Z,XAUUSD,1h,1,1,1,1,\n', 'f.csv').problems.map((p) => [p.line, p.message.slice(0, 14)])).toEqual(
      expect.arrayContaining([[1, "unknown column"]]),
    );
    expect(parseCsvBars('', 'f.csv').problems).toEqual([expect.objectContaining({ line: 1, message: expect.stringMatching(/missing header/) })]);
    const dup = parseCsvBars('ts_utc,symbol,timeframe,open,high,low,close,close\n', 'f.csv').problems;
    expect(dup.map((p) => p.message)).toEqual(expect.arrayContaining([expect.stringMatching(/'close' appears twice/), expect.stringMatching(/lacks column 'volume'/)]));
    const extra = parseCsvBars(`${HEADER},spread\n`, 'f.csv').problems;
    expect(extra).toEqual([expect.objectContaining({ line: 1, column: 'spread' })]);
  });

  it('reports a missing path as a config error', async () => {
    await expect(new CsvProvider({ path: join(dir, 'nope.csv') }).fetchTimeSeries(req('XAUUSD'))).rejects.toMatchObject({ errorId: 'DATA_CONFIG_INVALID' });
  });
});
