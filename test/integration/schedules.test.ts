/**
 * Schedules with real processes on every engine under test: three processes (one `berth start`,
 * two `berth worker`) on one database tick the same schedules, and each tick starts exactly one
 * task or run, none missed; overlap: skip records skipped ticks; the missed policies after an
 * outage; pause (which survives a restart), resume and a manual trigger; and a changed runners file
 * after a restart, with no duplicate tick and nothing left of a removed schedule.
 *
 * The fixture's cron expressions tick every few seconds through the test hook
 * BERTH_TEST_CRON_SECONDS=1 (a sixth, seconds field). Order is read from the database's own times.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, waitForFinal, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/schedule-runners.yaml', import.meta.url));
const CHANGED = fileURLToPath(new URL('../fixtures/schedule-runners-changed.yaml', import.meta.url));

type Json = Record<string, any>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The yearly schedules' latest tick and their next one, whatever year the test runs in. */
const YEAR = new Date().getUTCFullYear();
const NEW_YEAR = `${YEAR}-01-01T00:00:00.000Z`;
const NEXT_NEW_YEAR = `${YEAR + 1}-01-01T00:00:00.000Z`;

/** The offset Europe/Berlin has at `iso`, as Intl (not Berth) reads it: "+01:00" in winter, "+02:00" in summer. */
function berlinOffset(iso: string): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', timeZoneName: 'longOffset' })
    .formatToParts(new Date(iso)).find((part) => part.type === 'timeZoneName')!.value;
  return name.replace('GMT', '') || '+00:00';
}
const time = (iso: string): number => Date.parse(iso);

for (const engineUnderTest of testEngines()) {
  describe(`schedules on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let processes: BerthProcess[] = [];
    let url: string;
    const env = (config: string): Record<string, string> => ({
      DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: config,
      BERTH_INSTANCE: database.name, BERTH_TEST_CRON_SECONDS: '1',
    });

    /** `berth start` and `workers` more worker processes, all on the same database and file. */
    async function startAll(config: string, workers: number): Promise<void> {
      const main = spawnBerth(['start'], env(config));
      url = String((await main.waitForLog('berth is listening'))['url']);
      processes = [main];
      for (let i = 0; i < workers; i += 1) {
        const worker = spawnBerth(['worker'], env(config));
        await worker.waitForLog('worker started');
        processes.push(worker);
      }
    }

    async function stopAll(): Promise<void> {
      for (const p of processes) assert.equal(await p.stop('SIGTERM'), 0, `berth must exit 0 on SIGTERM; output:\n${p.output()}`);
      processes = [];
    }

    async function get(path: string): Promise<{ status: number; body: Json }> {
      const response = await fetch(`${url}${path}`);
      return { status: response.status, body: await response.json() as Json };
    }

    async function post(path: string): Promise<{ status: number; body: Json }> {
      const response = await fetch(`${url}${path}`, { method: 'POST' });
      return { status: response.status, body: await response.json() as Json };
    }

    const tasksOf = async (schedule: string): Promise<Json[]> => (await get(`/tasks?schedule=${schedule}&limit=500&fields=full`)).body['items'];
    const runsOf = async (schedule: string): Promise<Json[]> => (await get(`/workflows?schedule=${schedule}&limit=500&fields=full`)).body['items'];

    /** Waits until `schedule` has started at least `count` tasks. */
    async function untilTasks(schedule: string, count: number, timeoutMs = 30_000): Promise<Json[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const tasks = await tasksOf(schedule);
        if (tasks.length >= count) return tasks;
        if (Date.now() > deadline) throw new Error(`schedule ${schedule} started ${tasks.length} of ${count} tasks in time`);
        await sleep(250);
      }
    }

    /** The ticks' times, oldest first; each must appear once, one period after the one before. */
    function assertEveryTickOnce(items: Json[], periodMs: number, what: string): number[] {
      const ticks = items.map((item) => time(item['scheduledFor'])).sort((a, b) => a - b);
      assert.equal(new Set(ticks).size, ticks.length, `${what}: a tick started twice: ${items.map((i) => i['scheduledFor']).sort().join(', ')}`);
      for (let i = 1; i < ticks.length; i += 1) {
        assert.equal(ticks[i]! - ticks[i - 1]!, periodMs, `${what}: ticks must follow one another without a gap: ${new Date(ticks[i - 1]!).toISOString()} → ${new Date(ticks[i]!).toISOString()}`);
      }
      for (const tick of ticks) assert.equal(tick % periodMs, 0, `${what}: a tick off its clock`);
      return ticks;
    }

    before(async () => {
      database = await createTestDatabase();
      await startAll(FIXTURE, 2);
    });

    after(async () => {
      await stopAll();
      if (database !== undefined) {
        assert.deepEqual(await engine.listContainers({ 'berth.managed-by': database.name }), [], 'no container may be left behind');
        await database.drop();
      }
    });

    test('three processes tick the same schedules: every tick starts exactly one task or run, none is missed', async () => {
      const tasks = await untilTasks('every-2s', 5);
      assertEveryTickOnce(tasks, 2000, 'every-2s');
      for (const task of tasks) assert.deepEqual([task['schedule'], task['runner'], task['input']], ['every-2s', 'echo', { from: 'every-2s' }]);
      assert.equal((await waitForFinal(url, tasks[0]!['id']))['status'], 'succeeded');
      const runs = await runsOf('pipeline');
      assert.ok(runs.length >= 2, `the pipeline schedule started ${runs.length} runs`);
      assertEveryTickOnce(runs, 3000, 'pipeline');
      for (const run of runs) assert.deepEqual([run['schedule'], run['workflow'], run['input']], ['pipeline', 'pair', { from: 'pipeline' }]);
      // A schedule's tasks and runs are listed by its name only.
      assert.deepEqual(await runsOf('every-2s'), []);
      assert.deepEqual(await tasksOf('pipeline'), [], 'a run\'s step tasks carry no schedule: the run does');
    });

    test('overlap: skip: a tick while the last run is not final starts nothing and is recorded as skipped', async () => {
      const tasks = await untilTasks('one-at-a-time', 2, 40_000);
      const detail = (await get('/schedules/one-at-a-time')).body;
      const skipped = detail['recentTicks'].filter((t: Json) => t['outcome'] === 'skipped');
      assert.ok(skipped.length > 0, `ticks every second against a 3 s task must be skipped: ${JSON.stringify(detail['recentTicks'])}`);
      assert.deepEqual([skipped[0]['taskId'], skipped[0]['workflowId']], [null, null]);
      assert.match(skipped[0]['message'], /not final/);
      // Each task was started only once the one before had ended.
      const final = await Promise.all(tasks.map((t) => waitForFinal(url, t['id'])));
      final.sort((a, b) => time(a['createdAt']) - time(b['createdAt']));
      for (let i = 1; i < final.length; i += 1) {
        assert.ok(time(final[i]!['createdAt']) >= time(final[i - 1]!['finishedAt']), 'a new run while the last was not final');
      }
    });

    test('GET /schedules: each schedule\'s definition, its next five ticks in UTC and in its zone, its last tick', async () => {
      const { status, body } = await get('/schedules');
      assert.equal(status, 200);
      const byName = new Map<string, Json>(body['items'].map((s: Json) => [s['name'], s]));
      assert.deepEqual([...byName.keys()].sort(), ['catch-up', 'every-2s', 'one-at-a-time', 'passed-over', 'pipeline']);
      const pipeline = byName.get('pipeline')!;
      assert.deepEqual(
        [pipeline['cron'], pipeline['timezone'], pipeline['runner'], pipeline['workflow'], pipeline['overlap'], pipeline['missed'], pipeline['paused']],
        ['*/3 * * * * *', 'Europe/Berlin', null, 'pair', 'allow', 'skip', false],
      );
      const next = pipeline['nextTicks'] as Json[];
      assert.equal(next.length, 5);
      for (let i = 1; i < next.length; i += 1) assert.equal(time(next[i]!['utc']) - time(next[i - 1]!['utc']), 3000);
      // The same instant in Berlin's wall time, with the offset in force then.
      assert.ok(next[0]!['local'].endsWith(berlinOffset(next[0]!['utc'])), `${next[0]!['local']} in Berlin`);
      assert.equal(time(next[0]!['local']), time(next[0]!['utc']));
      const last = byName.get('every-2s')!['lastTick'];
      assert.deepEqual([last['source'], last['outcome']], ['clock', 'started']);
      assert.notEqual(last['taskId'], null);
      assert.equal(byName.get('catch-up')!['lastTick'], null);
    });

    test('after an outage: missed: once starts one run for the missed ticks; missed: skip starts none and moves on', async () => {
      // As if every process had been down since New Year: the yearly tick came due with none running.
      await queryDatabase(database.url, `update berth.schedules set next_tick_at = $1 where name in ('catch-up', 'passed-over')`, [NEW_YEAR]);
      const [caught] = await untilTasks('catch-up', 1);
      assert.equal(caught!['scheduledFor'], NEW_YEAR);
      const detail = (await get('/schedules/catch-up')).body;
      assert.deepEqual([detail['lastTick']['missed'], detail['lastTick']['taskId']], [1, caught!['id']]);
      assert.equal(detail['nextTicks'][0]['utc'], NEXT_NEW_YEAR);
      const passed = (await get('/schedules/passed-over')).body;
      assert.deepEqual(await tasksOf('passed-over'), []);
      assert.equal(passed['lastTick'], null, 'missed: skip records no run');
      const [row] = await queryDatabase<{ next_tick_at: Date }>(database.url, `select next_tick_at from berth.schedules where name = 'passed-over'`);
      assert.equal(row!.next_tick_at.toISOString(), NEXT_NEW_YEAR, 'the schedule moved on to its next tick');
      await sleep(2500);
      assert.equal((await tasksOf('catch-up')).length, 1, 'the missed ticks start one run, once');
    });

    test('pause holds every tick, across a restart; a manual trigger starts one run anyway; resume ticks again', async () => {
      const paused = await post('/schedules/every-2s/pause');
      assert.equal(paused.status, 200);
      assert.equal(paused.body['paused'], true);
      const before = (await tasksOf('every-2s')).length;
      // Restart the process that serves the API: the pause is the database's, not a process's.
      assert.equal(await processes[0]!.stop('SIGTERM'), 0);
      const main = spawnBerth(['start'], env(FIXTURE));
      url = String((await main.waitForLog('berth is listening'))['url']);
      processes[0] = main;
      await sleep(4500);
      assert.equal((await tasksOf('every-2s')).length, before, 'a paused schedule fires nothing');
      assert.equal((await get('/schedules/every-2s')).body['paused'], true, 'the pause survives the restart');

      const triggered = await post('/schedules/every-2s/trigger');
      assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
      const task = await waitForFinal(url, triggered.body['taskId']);
      assert.deepEqual([task['status'], task['schedule'], task['scheduledFor']], ['succeeded', 'every-2s', triggered.body['scheduledFor']]);
      const [manual] = (await get('/schedules/every-2s')).body['recentTicks'];
      assert.deepEqual([manual['source'], manual['outcome'], manual['taskId']], ['manual', 'started', task['id']]);

      const resumed = await post('/schedules/every-2s/resume');
      assert.deepEqual([resumed.status, resumed.body['paused']], [200, false]);
      const after = await untilTasks('every-2s', before + 3);
      const clockTicks = after.filter((t) => t['id'] !== task['id']);
      // The ticks of the pause were not made up for: after the resume, ticks follow from then on.
      const resumedTicks = clockTicks.map((t) => time(t['scheduledFor'])).filter((t) => t > time(triggered.body['scheduledFor']));
      assert.ok(resumedTicks.length >= 2);
      assertEveryTickOnce(clockTicks.filter((t) => time(t['scheduledFor']) > time(triggered.body['scheduledFor'])), 2000, 'after the resume');
    });

    test('a changed runners file after a restart: the changed clock takes over with no tick twice, a removed schedule is gone', async () => {
      await stopAll();
      const stoppedAt = Date.now();
      const earlier = (await queryDatabase<{ n: number }>(database.url, `select count(*)::int as n from berth.tasks where schedule = 'one-at-a-time'`))[0]!.n;
      await startAll(CHANGED, 1);
      const tasks = await untilTasks('every-2s', (await tasksOf('every-2s')).length + 2);
      const ticks = tasks.filter((t) => t['scheduledFor'] !== null).map((t) => time(t['scheduledFor']));
      assert.equal(new Set(ticks).size, ticks.length, 'no tick started twice across the change');
      const afterChange = ticks.filter((t) => t > stoppedAt);
      assert.ok(afterChange.length >= 2);
      for (const tick of afterChange) assert.equal(tick % 5000, 0, 'the new clock ticks every 5 s');
      assert.equal((await get('/schedules/one-at-a-time')).status, 404);
      assert.equal((await get('/schedules/pipeline')).body['code'], 'SCHEDULE_NOT_FOUND');
      await sleep(2000);
      const [started] = await queryDatabase<{ n: number }>(database.url, `select count(*)::int as n from berth.tasks where schedule = 'one-at-a-time'`);
      assert.equal(started!.n, earlier, 'a removed schedule starts nothing');
      const [left] = await queryDatabase<{ n: number }>(database.url, `select count(*)::int as n from berth.schedule_ticks where schedule in ('one-at-a-time', 'pipeline')`);
      assert.equal(left!.n, 0, 'no tick of a removed schedule is left');
    });

    test('an unknown schedule answers 404 SCHEDULE_NOT_FOUND on every route', async () => {
      for (const [method, path] of [['GET', '/schedules/nope'], ['POST', '/schedules/nope/pause'], ['POST', '/schedules/nope/resume'], ['POST', '/schedules/nope/trigger']] as const) {
        const response = await fetch(`${url}${path}`, { method });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(((await response.json()) as Json)['code'], 'SCHEDULE_NOT_FOUND');
      }
    });
  });
}
