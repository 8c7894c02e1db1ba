import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from './html.ts';

describe('html', () => {
  it('escapes the five characters that can leave text or a quoted attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('escapes every interpolated value unless it is already markup', () => {
    const name = "<b>O'Neil</b>";
    const inner = html`<i>${name}</i>`;
    expect(html`<p title="${name}">${inner}${raw('<br>')}${[name, 1, null, undefined, false]}</p>`.value).toBe(
      '<p title="&lt;b&gt;O&#39;Neil&lt;/b&gt;"><i>&lt;b&gt;O&#39;Neil&lt;/b&gt;</i><br>&lt;b&gt;O&#39;Neil&lt;/b&gt;1</p>',
    );
  });
});
