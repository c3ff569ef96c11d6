/**
 * `granary init` itself: what it writes, the dependency spec it chooses, and what it refuses.
 * (first-use.test.ts installs and runs what it writes.)
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { initProject, InitError } from '../../silo/init.js';
import { REPO } from '../process/silo-process.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'granary-init-'));
  dirs.push(d);
  return d;
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const own = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

describe('granary init', () => {
  it('writes the scaffold, with dotfiles, the project name and granary at this version', () => {
    const cwd = tempDir();
    const result = initProject({ dir: 'My Grains', cwd });
    expect(result.name).toBe('my-grains');
    expect(result.granary).toBe(`^${own.version}`);
    expect(result.files).toEqual([
      '.dockerignore', '.gitignore', 'Dockerfile', 'README.md', 'package.json', 'src/grains.ts', 'src/todo-list.ts',
      'src/worker.ts', 'test/todo-list.test.ts', 'tsconfig.build.json', 'tsconfig.json', 'wrangler.toml',
    ]);
    const pkg = JSON.parse(readFileSync(join(cwd, 'My Grains', 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(pkg.name).toBe('my-grains');
    expect(pkg.dependencies).toEqual({ granary: `^${own.version}` });
    expect(pkg.devDependencies).toEqual({
      '@types/node': own.devDependencies['@types/node'], typescript: own.devDependencies.typescript, vitest: own.devDependencies.vitest,
    });
    for (const f of result.files) expect(readFileSync(join(cwd, 'My Grains', f), 'utf8')).not.toMatch(/\{\{\w+\}\}/);
    expect(readFileSync(join(cwd, 'My Grains', 'wrangler.toml'), 'utf8')).toMatch(/^name = "my-grains"$/m);
    expect(readFileSync(join(cwd, 'My Grains', 'test', 'todo-list.test.ts'), 'utf8')).toMatch(/from 'granary\/testing'/);
  });

  it('takes --granary as a version range as it is, and a path as file:<absolute path>', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'granary-9.9.9.tgz'), '');
    expect(initProject({ dir: 'a', cwd, granary: 'next' }).granary).toBe('next');
    expect(initProject({ dir: 'b', cwd, granary: './granary-9.9.9.tgz' }).granary).toBe(`file:${join(cwd, 'granary-9.9.9.tgz')}`);
    expect(initProject({ dir: 'c', cwd, granary: 'file:granary-9.9.9.tgz' }).granary).toBe(`file:${join(cwd, 'granary-9.9.9.tgz')}`);
    expect(() => initProject({ dir: 'd', cwd, granary: './missing.tgz' })).toThrow(/missing\.tgz does not exist/);
  });

  it('writes into an empty directory, and refuses a non-empty one, touching nothing', () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'empty'));
    expect(initProject({ dir: 'empty', cwd, name: 'x' }).files.length).toBeGreaterThan(0);
    mkdirSync(join(cwd, 'full'));
    writeFileSync(join(cwd, 'full', 'notes.txt'), 'mine');
    expect(() => initProject({ dir: 'full', cwd })).toThrow(InitError);
    expect(() => initProject({ dir: 'full', cwd })).toThrow(/full is not empty \(it holds notes\.txt\).*choose another one/);
    expect(readdirSync(join(cwd, 'full'))).toEqual(['notes.txt']);
    writeFileSync(join(cwd, 'file'), '');
    expect(() => initProject({ dir: 'file', cwd })).toThrow(/exists and is not a directory/);
  });

  it('refuses a package name npm would refuse', () => {
    expect(() => initProject({ dir: 'x', cwd: tempDir(), name: 'Bad Name' })).toThrow(/"Bad Name" is not a valid npm package name.*--name/);
  });

  it('as a command: exit 0 with next steps, 1 on a non-empty directory, 2 on bad usage', async () => {
    const cwd = tempDir();
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'dist/silo/cli.js'), 'init', ...args], { cwd })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (err: { code: number; stdout: string; stderr: string }) => err);
    const ok = await cli('app');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/created app in app .*\n(.*\n)*  cd app\n  npm install\n  npm test\n/);
    const refused = await cli('app');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^granary init: .*app is not empty/);
    const usage = await cli();
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/name the directory to create[\s\S]*usage:/);
    expect((await cli('--frobnicate', 'x')).code).toBe(2);
  });
});
