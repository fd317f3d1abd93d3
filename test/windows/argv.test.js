'use strict';
// argv quoting (MSVC runtime rules) and the environment block, round-tripped through a child.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const ARGS = [
  'plain',
  'two words',
  '',
  ' ',
  '\t',
  'he said "hi"',
  '"',
  '""',
  '\\',
  'trailing\\',
  'trailing space \\',
  'C:\\Program Files\\x\\',
  '\\\\server\\share\\',
  'a\\\\b',
  'a\\"b',
  'a\\\\"b',
  'x"',
  '"x',
  'tab\there',
  'new\nline',
  'ünïcödé ☃ 😀 中文',
  '%PATH%',
  '^&|<>',
  "it's",
];

test('commandLine quotes by the MSVC rules', { skip: h.notWindows }, () => {
  const q = (args) =>
    h
      .addon()
      .commandLine(['p', ...args])
      .slice(2);
  assert.equal(q(['a']), 'a');
  assert.equal(q(['a b']), '"a b"');
  assert.equal(q(['']), '""');
  assert.equal(q(['a"b']), '"a\\"b"');
  assert.equal(q(['a\\']), 'a\\'); // no space: left bare, backslash literal
  assert.equal(q(['a b\\']), '"a b\\\\"'); // doubled before the closing quote
  assert.equal(q(['a\\"b']), '"a\\\\\\"b"');
  assert.equal(h.addon().commandLine(['C:\\Program Files\\n.exe', 'x']), '"C:\\Program Files\\n.exe" x');
});

test('argv round-trips exactly through a child', { skip: h.notWindows }, async () => {
  const out = h.outFile();
  const r = h.spawnNode('process.stdout.write(JSON.stringify(process.argv.slice(1)))', ARGS, {
    stdio: ['ignore', out.stdio, 'ignore'],
  });
  const exit = await h.watch(r.job);
  h.addon().close(r.job);
  out.close();
  assert.equal(exit.exitCode, 0);
  assert.deepEqual(JSON.parse(out.read()), ARGS);
});

test('argv[0] with a space and the program path are kept apart', { skip: h.notWindows }, async () => {
  const out = h.outFile();
  const r = h.addon().spawn({
    file: process.execPath,
    argv: ['my node', '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', 'x y'],
    stdio: ['ignore', out.stdio, 'ignore'],
  });
  await h.watch(r.job);
  h.addon().close(r.job);
  out.close();
  assert.deepEqual(JSON.parse(out.read()), ['x y']);
});

test('environment block: sorted case-insensitively, first duplicate wins, unicode kept', { skip: h.notWindows }, async () => {
  const a = h.addon();
  assert.deepEqual(a.environmentBlock(['b=1', 'A=2', 'c=3', 'a=4', '=C:=C:\\x', 'noequals']), ['=C:=C:\\x', 'A=2', 'b=1', 'c=3']);
  const out = h.outFile();
  const env = [`SystemRoot=${process.env.SystemRoot || 'C:\\windows'}`, 'CONFINE_Z=zeta', 'confine_u=ü☃😀', 'CONFINE_EMPTY='];
  const r = h.spawnNode(
    'const e=process.env;process.stdout.write(JSON.stringify([e.CONFINE_Z,e.CONFINE_U,e.CONFINE_EMPTY,e.PATH===undefined]))',
    [],
    { env, stdio: ['ignore', out.stdio, 'ignore'] },
  );
  const exit = await h.watch(r.job);
  a.close(r.job);
  out.close();
  assert.equal(exit.exitCode, 0);
  assert.deepEqual(JSON.parse(out.read()), ['zeta', 'ü☃😀', '', true]);
});

test('a batch file is refused (it would run cmd.exe with unescaped arguments)', { skip: h.notWindows }, () => {
  assert.throws(() => h.addon().spawn({ file: 'C:\\x\\run.bat', argv: ['run.bat', '&calc'] }), {
    code: 'ERR_CONFINE_SPAWN',
    stage: 'argv',
    errno: 'ERROR_INVALID_PARAMETER',
  });
});
