/**
 * The dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core; .ci/run installs
 * it) against a real controller on a real git repo with three real agent processes, over TLS: the overview's
 * counts match the running fleet; a commit's convergence shows up live, without a reload (the page has no
 * polling, so only the event stream can bring it); a host page shows a drift record, its diff and an
 * execution's output. Screenshots go to test-artifacts/dashboard/. Without chromium the suite is skipped,
 * saying why.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_MAIN, type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml, listDrift, listExecutions, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

/** Debian's chromium; GSE_CHROMIUM names another binary. */
const CHROMIUM = process.env.GSE_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(
    `dashboard browser tests skipped: no chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it, or set GSE_CHROMIUM)`,
  );

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test-artifacts/dashboard');
const HOSTS = ['db-1', 'web-1', 'web-2'];
/** How long the page may take to show what the controller already knows. */
const PAGE_WAIT_MS = 30_000;
const PINNED_TEXT = 'line 1\nline 2\nline 3\n';
const HAND_EDIT = 'line 1\nline two\nline 3\n';
/** A file target (under the controller's state dir) and a route to it, so the overview has a target to show. */
const DATA_YAML = `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: archive }
spec:
  file: { path: archive/records.jsonl }
---
apiVersion: gse/v1
kind: Route
metadata: { name: logs-to-archive }
spec:
  channel: logs
  targets: [{ name: archive }]
`;
const PUSHED_RECORDS = 200;
const EXEC_OUTPUT = 'dashboard-exec-output <b>not markup</b>';

describe.skipIf(!HAVE_CHROMIUM)('dashboard in headless Chromium', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let browser: Browser;
  let page: Page;
  const agents: AgentProcess[] = [];
  const pageErrors: string[] = [];

  /** The text of the first element `selector` matches, or undefined while there is none. */
  async function textOf(selector: string): Promise<string | undefined> {
    const el = await page.$(selector);
    return el ? ((await el.textContent()) ?? '') : undefined;
  }

  /** Waits until the page's `selector` text passes `ok`; returns that text. */
  function waitText(what: string, selector: string, ok: (text: string) => boolean): Promise<string> {
    return waitFor(
      `the page to show ${what}`,
      async () => {
        const t = await textOf(selector);
        return t !== undefined && ok(t) ? t : undefined;
      },
      PAGE_WAIT_MS,
    );
  }

  async function screenshot(name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    await rm(join(ARTIFACTS, 'page-errors.txt'), { force: true });
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed v1\n' }),
      'fleet/pinned.yaml': configFileYaml({
        name: 'pinned',
        path: '/etc/pinned.conf',
        content: PINNED_TEXT,
        syncPolicy: { selfHeal: false },
      }),
      'fleet/data.yaml': DATA_YAML,
    });
    const sha = await repo.head();
    ctl = await startController(repo.dir, { path: 'fleet' });
    for (const name of HOSTS) agents.push(await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
    await waitSynced(ctl, HOSTS, sha);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    // The controller's certificate is from the test CA, which this browser profile does not know.
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1400, height: 1000 },
    });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      // Failed loads are told by URL below (the browser's own /favicon.ico request is no error of the page).
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
        pageErrors.push(msg.text());
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && new URL(res.url()).pathname !== '/favicon.ico')
        pageErrors.push(`${res.status()} ${res.url()}`);
    });
    // The token rides in the fragment, which never reaches the server; the page keeps it and drops it.
    await page.goto(`${ctl.url}/#token=${TEST_ADMIN_TOKEN}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.cleanup()));
    await ctl?.cleanup();
    await repo?.cleanup();
    if (pageErrors.length > 0)
      await writeFile(join(ARTIFACTS, 'page-errors.txt'), `${pageErrors.join('\n')}\n`).catch(() => {});
  });

  it('shows the running fleet on the overview: hosts by sync state, the applied revision, the hosts', async () => {
    const sha = await repo.head();
    await waitText('three Synced hosts', '#count-Synced b', (t) => t === '3');
    const hosts = await listHosts(ctl);
    const expected: Record<string, number> = {
      Synced: 0,
      OutOfSync: 0,
      Progressing: 0,
      Failed: 0,
      Unknown: 0,
    };
    for (const h of hosts) expected[h.syncState] = (expected[h.syncState] ?? 0) + 1;
    for (const [state, n] of Object.entries(expected))
      expect(await textOf(`#count-${state} b`)).toBe(String(n));
    expect(await textOf('#total')).toBe('3 hosts, 3 connected');
    expect(await textOf('#applied-sha')).toBe(sha.slice(0, 10));
    const listed = await page.$$eval('#hosts a', (links) => links.map((a) => a.textContent));
    expect(listed.sort()).toEqual(HOSTS);
    const targets = await waitText('the file target', '#targets', (t) => t.includes('archive'));
    const targetRow = await page.$$eval('#targets tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)),
    );
    expect(targets).toContain('archive');
    // target, type, state, connected, spool, lag, last error
    expect(targetRow.find((r) => r[0] === 'archive')?.slice(0, 5)).toEqual([
      'archive',
      'file',
      'running',
      'yes',
      '0',
    ]);
    await waitText('the event stream connected', '#live', (t) => t === 'live');
    // The fragment with the token is gone from the address bar.
    expect(page.url()).not.toContain(TEST_ADMIN_TOKEN);
    await screenshot('overview');
  });

  it("shows a new commit's convergence live, without a reload", async () => {
    // A reload or navigation would drop this.
    await page.evaluate('window.__sameDocument = "yes"');
    const sha = await repo.commit(
      { 'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed v2\n' }) },
      'motd v2',
    );
    await ctl.controller.fetchNow();
    const short = sha.slice(0, 10);
    await waitText('the new revision applied', '#applied-sha', (t) => t === short);
    const converged = await waitText('the new revision converged', '#converged-last', (t) =>
      t.startsWith(short),
    );
    expect(converged).toMatch(new RegExp(`^${short} converged in \\d+\\.\\d\\d s on 3 host\\(s\\)$`));
    await waitSynced(ctl, HOSTS, sha);
    await waitText('three Synced hosts again', '#count-Synced b', (t) => t === '3');
    expect(await page.evaluate('window.__sameDocument')).toBe('yes');
    // The convergence plot drew a point for it.
    expect(await page.$$('#plot-convergence svg circle')).toHaveLength(1);
    for (const a of agents) expect(await a.read('/etc/motd')).toBe('managed v2\n');
    await screenshot('converged-live');
  });

  it('shows a rejected commit with its errors live, the last good revision still applied', async () => {
    const applied = await textOf('#applied-sha');
    const bad = await repo.commit(
      {
        'fleet/bad.yaml':
          'apiVersion: gse/v1\nkind: ConfigFile\nmetadata: { name: bad }\nspec: { hosts: { names: ["*"] } }\n',
      },
      'a file with no path',
    );
    await ctl.controller.fetchNow();
    const rejected = await waitText('the rejected revision', '#rejected', (t) =>
      t.includes(bad.slice(0, 10)),
    );
    expect(rejected).toContain('a file with no path');
    expect(await textOf('#rejected .errors')).toMatch(/^bad\.yaml:\d+:\d+: spec: /);
    expect(await textOf('#applied-sha')).toBe(applied);
    expect(await page.evaluate('window.__sameDocument')).toBe('yes');
    await screenshot('rejected-live');
  });

  it("shows a host's drift record, its diff and an execution's output on the host page", async () => {
    const web1 = agents.find((a) => a.name === 'web-1') as AgentProcess;
    const exec = await ctl.request('/api/v1/exec', {
      token: TEST_ADMIN_TOKEN,
      body: JSON.stringify({ hosts: 'name=web-1', script: `echo '${EXEC_OUTPUT}'; echo to-stderr >&2` }),
    });
    expect(exec.status, exec.text).toBe(200);
    expect(exec.text).toContain('"hosts":["web-1"]');
    await waitFor('the execution stored', async () =>
      (await listExecutions(ctl, 'web-1')).some((e) => e.stdoutTail.includes(EXEC_OUTPUT)),
    );
    await writeFile(web1.path('/etc/pinned.conf'), HAND_EDIT);
    await waitFor('the drift recorded', async () =>
      (await listDrift(ctl, 'web-1')).some((d) => d.key === 'ConfigFile/pinned' && !d.healed),
    );

    // The overview hears the drift too: one host OutOfSync now.
    await waitText('web-1 OutOfSync', '#count-OutOfSync b', (t) => t === '1');
    expect(await textOf('#count-Synced b')).toBe('2');

    await page.evaluate('location.hash = "#/hosts/web-1"');
    await waitText('the drift timeline', '#drift-timeline', (t) => t.includes('ConfigFile/pinned'));
    const record = await textOf('#drift-timeline .drift-record');
    expect(record).toContain('corrective');
    expect(record).toContain('ConfigFile/pinned');
    expect(record).toContain('not healed');

    const diff = await waitText('the diff', '#host-diff', (t) => t.includes('line two'));
    expect(diff).toContain('ConfigFile/pinned');
    const diffLines = await page.$$eval('#host-diff pre.diff span', (spans) =>
      spans.map((s) => `${s.getAttribute('class') ?? ''} ${s.textContent}`),
    );
    expect(diffLines).toContain('del -line two');
    expect(diffLines).toContain('add +line 2');

    const stdout = await waitText('the execution output', '#host-execs pre.stdout', (t) =>
      t.includes(EXEC_OUTPUT),
    );
    expect(stdout.trim()).toBe(EXEC_OUTPUT);
    expect(await textOf('#host-execs pre.stderr')).toBe('to-stderr\n');
    // Output from a host is text on the page, never markup.
    expect(await page.$$('#host-execs pre.stdout b')).toHaveLength(0);

    expect(await textOf('#host-title')).toBe('web-1');
    expect(await textOf('#host-facts')).toContain('host id');
    expect(await page.evaluate('window.__sameDocument')).toBe('yes');
    await screenshot('host-web-1');
    expect(pageErrors).toEqual([]);
  });

  it('plots the data rate of records an agent pushes, live', async () => {
    await page.evaluate('location.hash = "#/"');
    const web2 = agents.find((a) => a.name === 'web-2') as AgentProcess;
    const lines = Array.from({ length: PUSHED_RECORDS }, (_, i) => JSON.stringify({ seq: i }));
    const child = spawn(
      process.execPath,
      [AGENT_MAIN, 'push', '--state-dir', web2.stateDir, '--channel', 'logs'],
      {
        stdio: ['pipe', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.stdin.end(`${lines.join('\n')}\n`);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    // The controller samples the router's counters every 5 s; the sample after the push has a rate.
    const rate = await waitText('a data rate above zero', '#rate-last', (t) => /^in [1-9][\d.]*\/s/.test(t));
    expect(rate).toMatch(/^in [\d.]+\/s · out [\d.]+\/s$/);
    expect(await page.$$('#plot-rate-in svg polyline')).toHaveLength(1);
    expect(await page.evaluate('window.__sameDocument')).toBe('yes');
    await screenshot('data-rates');
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
