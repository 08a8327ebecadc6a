/**
 * The dashboard's own script run in node:vm over a stub DOM (just what the script uses, serialized as markup
 * so a test can check what it wrote) against a real API served over a port of plain objects.
 */
import { runInNewContext } from 'node:vm';
import { DASHBOARD_HTML } from '../../src/api/dashboard.js';

/** An element of the stub DOM: enough of the DOM for the dashboard's script, serialized as markup. */
export class StubElement {
  readonly attributes = new Map<string, string>();
  children: Array<StubElement | string> = [];
  hidden = false;
  value = '';
  constructor(readonly tagName: string) {}
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }
  append(...nodes: Array<StubElement | string>): void {
    this.children.push(...nodes);
  }
  replaceChildren(...nodes: Array<StubElement | string>): void {
    this.children = [...nodes];
  }
  addEventListener(): void {}
  get textContent(): string {
    return this.children.map((c) => (typeof c === 'string' ? c : c.textContent)).join('');
  }
  set textContent(text: string) {
    this.children = [String(text)];
  }
  /** The children as markup, text escaped as a browser serializes it. */
  get innerHTML(): string {
    return this.children.map((c) => (typeof c === 'string' ? escapeText(c) : c.outerHTML)).join('');
  }
  get outerHTML(): string {
    const tag = this.tagName.toLowerCase();
    const attrs = [...this.attributes].map(
      ([k, v]) => ` ${k}="${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`,
    );
    return `<${tag}${attrs.join('')}>${this.innerHTML}</${tag}>`;
  }
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Runs the dashboard script on `hash` against `baseUrl` with `token`; returns the elements it looked up, by
 * id. The event stream is refused here (the live half has its own tests), so the view renders once.
 */
export function runDashboard(baseUrl: string, token: string, hash = '#/rollouts'): Map<string, StubElement> {
  const script = /<script>([\s\S]*?)<\/script>/.exec(DASHBOARD_HTML)?.[1];
  if (!script) throw new Error('the dashboard has no <script> block');
  const elements = new Map<string, StubElement>();
  const element = (id: string) => {
    let el = elements.get(id);
    if (!el) {
      el = new StubElement('DIV');
      elements.set(id, el);
    }
    return el;
  };
  const storage = new Map<string, string>([['gseToken', token]]);
  runInNewContext(script, {
    document: {
      getElementById: element,
      createElement: (tag: string) => new StubElement(tag.toUpperCase()),
      createElementNS: (_ns: string, tag: string) => new StubElement(tag),
    },
    window: { addEventListener: () => {} },
    localStorage: {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => storage.set(k, v),
    },
    fetch: (path: string, init: RequestInit) =>
      path === '/api/v1/events'
        ? Promise.reject(new Error('no event stream in this test'))
        : fetch(`${baseUrl}${path}`, init),
    location: { hash, pathname: '/' },
    history: { replaceState: () => {} },
    setTimeout: () => 0,
    URLSearchParams,
    TextDecoder,
  });
  return elements;
}
