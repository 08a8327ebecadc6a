/** Shell-style globs (`*`, `?`, `[abc]`, `[a-z]`, `[!abc]`): host names in selectors, core file names on agents. */

const globCache = new Map<string, RegExp>();

/** Turns a shell-style glob (`*`, `?`, `[abc]`) into an anchored RegExp; cached. */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (re) return re;
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) src += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        src += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else src += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  re = new RegExp(`^${src}$`);
  globCache.set(glob, re);
  return re;
}
