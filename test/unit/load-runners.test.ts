import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config-error.ts';
import { loadRunnersFile, parseRunnersConfig } from '../../src/runners/load-runners.ts';
import type { Runner } from '../../src/runners/runner.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/berth.yaml', import.meta.url));
const MiB = 2 ** 20;

function parse(text: string, env: Record<string, string> = {}) {
  return parseRunnersConfig(text, { env, source: 'berth.yaml' });
}

function runner(text: string, name: string, env: Record<string, string> = {}): Runner {
  return parse(text, env).runners.get(name) ?? assert.fail(`no runner ${name}`);
}

/** The runner's data, without the validateInput function. */
function data({ validateInput: _, ...rest }: Runner) {
  return rest;
}

function problems(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parse(text, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

test('a valid file resolves every field, in file order', () => {
  const config = parse(
    `
networks_allowed: [bridge]
runners:
  jira-processor:
    image: registry.example.com/jira:2
    command: [python, -m, jira]
    env:
      TOKEN: "\${API_TOKEN}"
      URL: "https://\${JIRA_HOST:-jira.example.com}/rest"
      RETRIES: 3
      VERBOSE: true
      PRICE: "5$$"
    timeout: 1h30m
    input_schema:
      type: object
      required: [key]
      properties: { key: { type: string } }
    output: text
    network: bridge
    user: "1000:1000"
    read_only: false
    init: false
    limits: { memory: 256m, cpus: 1.5, pids: 64, nofile: 4096, tmp: 16MiB, log: 2MiB, output: 1MiB }
    retries: { limit: 3, delay: 2s, backoff: fixed }
    concurrency: 2
  echo:
    image: busybox
`,
    { API_TOKEN: 's3cret' },
  );
  assert.deepEqual([...config.runners.keys()], ['jira-processor', 'echo']);
  const jira = config.runners.get('jira-processor') ?? assert.fail();
  assert.deepEqual(data(jira), {
    name: 'jira-processor',
    image: 'registry.example.com/jira:2',
    command: ['python', '-m', 'jira'],
    env: { TOKEN: 's3cret', URL: 'https://jira.example.com/rest', RETRIES: '3', VERBOSE: 'true', PRICE: '5$' },
    timeoutMs: 5_400_000,
    inputSchema: { type: 'object', required: ['key'], properties: { key: { type: 'string' } } },
    output: 'text',
    network: 'bridge',
    user: '1000:1000',
    readOnly: false,
    init: false,
    limits: { memoryBytes: 256 * MiB, nanoCpus: 1_500_000_000, pids: 64, nofile: 4096, tmpBytes: 16 * MiB, logBytes: 2 * MiB, outputBytes: MiB },
    retries: { limit: 3, delayMs: 2000, backoff: 'fixed' },
    concurrency: 2,
    callback: undefined,
  });
});

test('omitted fields take their defaults', () => {
  assert.deepEqual(data(runner('runners: { echo: { image: busybox } }', 'echo')), {
    name: 'echo',
    image: 'busybox',
    command: undefined,
    env: {},
    timeoutMs: 300_000,
    inputSchema: undefined,
    output: 'json',
    network: 'none',
    user: '65534:65534',
    readOnly: true,
    init: true,
    limits: { memoryBytes: 512 * MiB, pids: 256, nofile: 1024, tmpBytes: 64 * MiB, logBytes: MiB, outputBytes: 10 * MiB },
    retries: { limit: 0, delayMs: 1000, backoff: 'exponential' },
    concurrency: undefined,
    callback: undefined,
  });
  const config = parseRunnersConfig('runners: { echo: { image: busybox } }', { env: {}, source: 's', defaultOutputBytes: 4096 });
  assert.equal(config.runners.get('echo')?.limits.outputBytes, 4096);
  assert.deepEqual(runner('runners: { echo: { image: busybox } }', 'echo').validateInput({ anything: 1 }), []);
});

test('retries and concurrency are checked', () => {
  assert.throws(
    () => parse('runners: { x: { image: i, retries: { limit: -1, delay: soon, backoff: linear, max: 3 }, concurrency: 0 } }'),
    (error: unknown) => {
      assert.deepEqual((error as ConfigError).problems, [
        'runners.x.retries.limit: must be an integer from 0 to 100',
        'runners.x.retries.delay: must be a duration',
        'runners.x.retries.backoff: must be one of: exponential, fixed',
        'runners.x.retries.max: unknown key',
        'runners.x.concurrency: must be a positive integer',
      ]);
      return true;
    },
  );
  assert.throws(() => parse('runners: { x: { image: i, retries: { delay: 1s } } }'), /runners\.x\.retries\.limit: is required/);
});

test('a classic dispatcher config works as it is: command as a string, timeout in seconds', () => {
  const config = parse(`
runners:
  jira-processor:
    image: registry.example.com/jira-processor:1
    command: python -m jira_processor --label "needs triage" --dry-run='no'
    timeout: 120
  asterisk:
    image: registry.example.com/asterisk:1
    command: /app/handle-call
    timeout: 2.5
`);
  const jira = config.runners.get('jira-processor') ?? assert.fail();
  assert.deepEqual(jira.command, ['python', '-m', 'jira_processor', '--label', 'needs triage', '--dry-run=no']);
  assert.equal(jira.timeoutMs, 120_000);
  assert.deepEqual(config.runners.get('asterisk')?.command, ['/app/handle-call']);
  assert.equal(config.runners.get('asterisk')?.timeoutMs, 2_500);
});

test('the result is frozen', () => {
  const config = parse('runners: { r: { image: i, command: [a], env: { A: b }, input_schema: { type: object, properties: { a: { type: string } } } } }');
  const r = config.runners.get('r') ?? assert.fail();
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(r));
  assert.ok(Object.isFrozen(r.env));
  assert.ok(Object.isFrozen(r.command));
  assert.ok(Object.isFrozen(r.limits));
  assert.ok(Object.isFrozen(r.inputSchema?.['properties']));
});

test('anchors and merge keys let runners share settings', () => {
  const config = parse(`
runners:
  base: &base { image: busybox, timeout: 5s, limits: { memory: 64m } }
  other:
    <<: *base
    command: [cat]
`);
  assert.deepEqual(data(config.runners.get('other') ?? assert.fail()), {
    ...data(config.runners.get('base') ?? assert.fail()),
    name: 'other',
    command: ['cat'],
  });
});

test('every problem of a file with many mistakes is listed, with its path, in file order', async () => {
  const error = await loadRunnersFile(fixture('invalid-berth.yaml'), { env: {} }).then(
    () => assert.fail('expected a ConfigError'),
    (thrown: unknown) => (thrown instanceof ConfigError ? thrown : assert.fail(String(thrown))),
  );
  assert.deepEqual(error.problems, [
    'runners.echo.image: is required',
    'runners.echo.imagee: unknown key',
    'runners.jira-processor.command: unterminated single quote at offset 33',
    'runners.jira-processor.timeout: must be a positive duration',
    'runners.x.env.TOKEN: variable API_TOKEN is not set',
    'runners.x.input_schema: invalid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
    'runners.x.output: must be one of: json, text',
    'runners.x.limits.memory: must be a positive size',
    'runners.x.limits.cpus: must be a positive number',
    'runners.x.limits.swap: unknown key',
    "runners.Bad_Name!: invalid runner name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
    'webhook: unknown key',
  ]);
  const source = fixture('invalid-berth.yaml');
  assert.equal(error.source, source);
  assert.equal(error.message, error.problems.map((problem) => `${source}: ${problem}`).join('\n'));
});

test('wrong types and bad values are reported for every field', () => {
  assert.deepEqual(
    problems(`
runners:
  r:
    image: ""
    command: [sh, 1]
    env: { A: null, B: [x], C: "\${X", "": v, "K=V": v }
    timeout: 0
    input_schema: [type, object]
    network: 5
    limits: { memory: 1.5, cpus: 0.0000000001, pids: 0, output: "0" }
  s: busybox
  t:
    image: [busybox]
    command: ""
    timeout: 1000h
    limits: { cpus: yes, pids: 2.5, output: true }
`),
    [
      'runners.r.image: must not be empty',
      'runners.r.command.1: must be a string',
      'runners.r.env.A: must be a string, a number or a boolean',
      'runners.r.env.B: must be a string, a number or a boolean',
      'runners.r.env.C: unterminated "${" reference: missing "}"',
      "runners.r.env.: invalid variable name: must be non-empty, without '='",
      "runners.r.env.K=V: invalid variable name: must be non-empty, without '='",
      'runners.r.timeout: must be a positive duration',
      'runners.r.input_schema: must be a mapping (a JSON Schema)',
      'runners.r.network: must be a string',
      'runners.r.limits.memory: must be a positive size',
      'runners.r.limits.cpus: must be a positive number',
      'runners.r.limits.pids: must be a positive integer',
      'runners.r.limits.output: must be a positive size',
      'runners.s: must be a mapping',
      'runners.t.image: must be a string',
      'runners.t.command: must not be empty',
      'runners.t.timeout: must not exceed 596h',
      'runners.t.limits.cpus: must be a number',
      'runners.t.limits.pids: must be an integer',
      'runners.t.limits.output: must be a positive size',
    ],
  );
});

test('a runner\'s network is none unless networks_allowed lists the one it names, host and container:* included', () => {
  const file = (network: string, allowed: string) => `
networks_allowed: ${allowed}
runners: { x: { image: i, network: "${network}" } }
`;
  assert.equal(runner(file('none', '[]'), 'x').network, 'none');
  assert.equal(runner('runners: { x: { image: i } }', 'x').network, 'none');
  assert.equal(runner(file('host', '[host]'), 'x').network, 'host');
  assert.equal(runner(file('container:vpn', '["container:vpn"]'), 'x').network, 'container:vpn');
  assert.equal(runner(file('jobs', '[bridge, jobs]'), 'x').network, 'jobs');
  assert.deepEqual(problems(file('host', '[bridge]')), ['runners.x.network: "host" is not in networks_allowed']);
  assert.deepEqual(problems('runners: { x: { image: i, network: bridge } }'), ['runners.x.network: "bridge" is not in networks_allowed']);
  assert.deepEqual(problems(file('container:vpn', '["container:db"]')), ['runners.x.network: "container:vpn" is not in networks_allowed']);
  assert.deepEqual(problems(file('container:vpn', '["container:*"]')), [
    'networks_allowed.0: "container:*": networks are listed by name, not by pattern',
    'runners.x.network: "container:vpn" is not in networks_allowed',
  ]);
  assert.deepEqual(problems(file('none', '["container:", ""]')), [
    'networks_allowed.0: "container:" must name the container',
    'networks_allowed.1: must not be empty',
  ]);
  assert.deepEqual(problems(file('none', 'host')), ['networks_allowed: must be a list']);
});

test('user, read_only and init override the hardened defaults, and are checked', () => {
  const x = (keys: string) => runner(`runners: { x: { image: i, ${keys} } }`, 'x');
  assert.equal(x('user: 1000').user, '1000');
  assert.equal(x('user: "1000:50"').user, '1000:50');
  assert.equal(x('user: app:staff').user, 'app:staff');
  assert.equal(x('user: 0').user, '0');
  assert.deepEqual([x('read_only: true').readOnly, x('read_only: false').readOnly], [true, false]);
  assert.deepEqual([x('init: true').init, x('init: false').init], [true, false]);
  assert.deepEqual(
    problems(`
runners:
  x: { image: i, user: "1000:", read_only: "no", init: 1 }
  y: { image: i, user: -1 }
  z: { image: i, user: "a b", limits: { nofile: 0, tmp: 0, log: none } }
  w: { image: i, user: [1000], limits: { nofile: 2000000, tmp: [], log: true } }
`),
    [
      'runners.x.user: must be a user name or uid, optionally with :group or :gid (e.g. 65534:65534)',
      'runners.x.read_only: must be a boolean',
      'runners.x.init: must be a boolean',
      'runners.y.user: must be a uid, 0 or more',
      'runners.z.user: must be a user name or uid, optionally with :group or :gid (e.g. 65534:65534)',
      'runners.z.limits.nofile: must be an integer from 1 to 1048576',
      'runners.z.limits.tmp: must be a positive size',
      'runners.z.limits.log: must be a positive size',
      'runners.w.user: must be a user name or uid, optionally with :group or :gid',
      'runners.w.limits.nofile: must be an integer from 1 to 1048576',
      'runners.w.limits.tmp: must be a positive size',
      'runners.w.limits.log: must be a positive size',
    ],
  );
});

test('a runner cannot ask for privileges, capabilities, devices or host mounts: there are no such keys', () => {
  assert.deepEqual(
    problems(`
runners:
  x:
    image: i
    privileged: true
    cap_add: [NET_ADMIN]
    capabilities: [SYS_ADMIN]
    devices: [/dev/kvm]
    volumes: ["/:/host"]
    mounts: [{ type: bind, source: /, target: /host }]
    security_opt: [seccomp=unconfined]
    pid: host
`),
    [
      'runners.x.privileged: unknown key', 'runners.x.cap_add: unknown key', 'runners.x.capabilities: unknown key',
      'runners.x.devices: unknown key', 'runners.x.volumes: unknown key', 'runners.x.mounts: unknown key',
      'runners.x.security_opt: unknown key', 'runners.x.pid: unknown key',
    ],
  );
});

test('unknown keys are errors at every level', () => {
  assert.deepEqual(
    problems(`
runner: {}
runners:
  r:
    image: busybox
    imagee: busybox
    limits: { memroy: 1g }
webhooks:
  w: { source: jira, runner: r, secret: s, filter: x }
callbacks: { endpoints: [{ url: 'https://h.example.com/', secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }], retry: 1 }
hooks: {}
`),
    [
      'runner: unknown key', 'runners.r.imagee: unknown key', 'runners.r.limits.memroy: unknown key',
      'webhooks.w.filter: unknown key', 'callbacks.retry: unknown key', 'hooks: unknown key',
    ],
  );
});

test('the runners section must exist and declare at least one runner', () => {
  assert.deepEqual(problems(''), ['runners: is required']);
  assert.deepEqual(problems('# nothing yet\n'), ['runners: is required']);
  assert.deepEqual(problems('runners: {}'), ['runners: must declare at least one runner']);
  assert.deepEqual(problems('runners:'), ['runners: must be a mapping of runner names to runners']);
  assert.deepEqual(problems('- runners'), ['(root): must be a mapping']);
  assert.deepEqual(problems('just text'), ['(root): must be a mapping']);
});

test('runner names must be usable in URLs and labels', () => {
  const nameProblem = "invalid runner name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit";
  const ok = ['a', 'Echo', '0-x', 'a.b_c-d', 'a'.repeat(63)];
  for (const name of ok) assert.equal(runner(`runners: { "${name}": { image: i } }`, name).name, name);
  for (const name of ['-a', '_a', '.a', 'a b', 'a/b', 'é', 'a'.repeat(64), '']) {
    assert.deepEqual(problems(`runners: { "${name}": { image: i } }`), [`runners.${name}: ${nameProblem}`], name);
  }
});

test('an invalid input_schema is a config error at its path', () => {
  const at = (schema: string) => problems(`runners:\n  x:\n    image: i\n    input_schema: ${schema}\n`);
  assert.deepEqual(at('{ type: object, propertees: {} }'), [
    'runners.x.input_schema: invalid JSON Schema: strict mode: unknown keyword: "propertees"',
  ]);
  assert.deepEqual(at('{ type: object, properties: { n: { type: integer, minimum: "1" } } }'), [
    'runners.x.input_schema: invalid JSON Schema: schema is invalid: data/properties/n/minimum must be number',
  ]);
  assert.deepEqual(at('{ $ref: "#/definitions/missing" }'), [
    'runners.x.input_schema: invalid JSON Schema: can\'t resolve reference #/definitions/missing from id #',
  ]);
  assert.deepEqual(at('{ type: string, format: emial }'), [
    'runners.x.input_schema: invalid JSON Schema: unknown format "emial" ignored in schema at path "#"',
  ]);
  assert.deepEqual(at('{ $async: true, type: object }'), [
    'runners.x.input_schema: invalid JSON Schema: $async schemas are not supported',
  ]);
});

test('unset ${VAR} references name the variable and the path', () => {
  assert.deepEqual(problems('runners: { x: { image: i, env: { TOKEN: "${API_TOKEN}", OK: "${HOME:-/}" } } }'), [
    'runners.x.env.TOKEN: variable API_TOKEN is not set',
  ]);
});

test('YAML syntax errors are reported with line and column', () => {
  assert.deepEqual(problems('runners:\n  echo:\n    image: "busybox\n'), ['line 4, column 1: Missing closing "quote']);
  assert.deepEqual(problems('runners:\n  echo: { image: a }\n  echo: { image: b }\n'), [
    'line 3, column 3: Map keys must be unique',
  ]);
  assert.deepEqual(problems('runners: {}\n---\nrunners: {}\n'), ['line 2, column 1: the file must hold a single YAML document']);
  assert.deepEqual(problems('runners: { echo: { image: !secret x } }'), ['line 1, column 27: Unresolved tag: !secret']);
});

test('validateInput reports every violation as a JSON pointer under /input', () => {
  const validated = runner(
    `
runners:
  validated:
    image: i
    input_schema:
      type: object
      required: [name, count]
      properties:
        name: { type: string }
        count: { type: integer, minimum: 1 }
        tags: { type: array, items: { type: string, format: email } }
        "a/b": { type: string }
      additionalProperties: false
`,
    'validated',
  );
  assert.deepEqual(validated.validateInput({ name: 'n', count: 1, tags: ['a@b.example'] }), []);
  assert.deepEqual(validated.validateInput({}), [
    { path: '/input', message: "must have required property 'name'" },
    { path: '/input', message: "must have required property 'count'" },
  ]);
  assert.deepEqual(validated.validateInput({ name: 5, count: 0, tags: ['x', 'y@z.example', 7], 'a/b': 1, extra: true }), [
    { path: '/input', message: "must NOT have additional property 'extra'" },
    { path: '/input/name', message: 'must be string' },
    { path: '/input/count', message: 'must be >= 1' },
    { path: '/input/tags/0', message: 'must match format "email"' },
    { path: '/input/tags/2', message: 'must be string' },
    { path: '/input/a~1b', message: 'must be string' },
  ]);
  assert.deepEqual(validated.validateInput('text'), [{ path: '/input', message: 'must be object' }]);
});

test('input_schema follows $schema: draft 2020-12 keywords work when declared', () => {
  const r = runner(
    `
runners:
  r:
    image: i
    input_schema:
      $schema: https://json-schema.org/draft/2020-12/schema
      type: array
      prefixItems: [{ type: string }]
      minItems: 1
      items: false
`,
    'r',
  );
  assert.deepEqual(r.validateInput(['a']), []);
  assert.deepEqual(r.validateInput([1, 2]), [
    { path: '/input/0', message: 'must be string' },
    { path: '/input', message: 'must NOT have more than 1 items' },
  ]);
  assert.deepEqual(r.validateInput([]), [{ path: '/input', message: 'must NOT have fewer than 1 items' }]);
});

test('a file that cannot be read is a ConfigError naming the path', async () => {
  const missing = fixture('does-not-exist.yaml');
  await assert.rejects(loadRunnersFile(missing, { env: {} }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [`cannot read ${missing}: no such file`]);
    assert.equal(error.message, `${missing}: cannot read ${missing}: no such file`);
    return true;
  });
});

test('the integration fixture loads, with ${VAR:-default} resolved from the env passed in', async () => {
  const config = await loadRunnersFile(fixture('berth.yaml'), { env: { BERTH_TEST_GREETING: 'hi from env' } });
  assert.deepEqual([...config.runners.keys()], [
    'echo', 'text-echo', 'fail', 'slow', 'big-output', 'not-json', 'stderr', 'env', 'missing-image', 'validated', 'sleep-short', 'network',
    'sleeper', 'flaky', 'always-fails', 'not-json-retried', 'chatty', 'limited', 'slow-retried', 'sandbox', 'memory-hog', 'fork-bomb',
  ]);
  const get = (name: string) => config.runners.get(name) ?? assert.fail(name);
  assert.equal(get('env').env['GREETING'], 'hi from env');
  assert.deepEqual(get('stderr').command, ['sh', '-c', `echo line1 >&2; echo line2 >&2; echo '{"ok":true}'`]);
  assert.deepEqual(get('network').command, ['sh', '-c', `ls /sys/class/net | tr '\\n' ' ' | sed 's/^/"/;s/ *$/"/'`]);
  assert.equal(get('text-echo').output, 'text');
  assert.equal(get('slow').timeoutMs, 1000);
  assert.equal(get('big-output').limits.outputBytes, 100_000);
  assert.equal(get('memory-hog').limits.memoryBytes, 32 * MiB);
  assert.equal(get('fork-bomb').limits.pids, 64);
  assert.equal(get('missing-image').image, 'berth-test/does-not-exist:1');
  assert.deepEqual(get('validated').validateInput({ name: 'x', count: 0 }), [{ path: '/input/count', message: 'must be >= 1' }]);
  const defaults = await loadRunnersFile(fixture('berth.yaml'), { env: {} });
  assert.equal(defaults.runners.get('env')?.env['GREETING'], 'hello');
});

test('the README example loads', async () => {
  const config = await loadRunnersFile(EXAMPLE, { env: {} });
  assert.deepEqual([...config.runners.keys()], ['echo', 'wordcount', 'greet', 'cleanup', 'jira-triage', 'asterisk-call']);
  assert.deepEqual([...config.webhooks!.keys()], ['jira', 'asterisk']);
  assert.deepEqual([...config.schedules!.keys()], ['nightly-cleanup']);
  assert.equal(config.schedules!.get('nightly-cleanup')!.clock.next(new Date('2026-12-03T12:00:00Z')).toISOString(), '2026-12-04T01:30:00.000Z');
  assert.equal(config.runners.get('echo')?.image, 'berth/busybox:1');
  assert.deepEqual(config.runners.get('wordcount')?.validateInput(3), [{ path: '/input', message: 'must be string' }]);
});
