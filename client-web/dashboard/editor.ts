// The Submit view's code editor: a textarea with line numbers, where Tab
// indents and Shift+Tab outdents (a code editor's keys). So that the keyboard
// is never trapped (WCAG 2.1.2), Escape then Tab moves focus on as usual.
import { h } from './dom.js';

const INDENT = '  ';

export interface CodeEditor {
  root: HTMLElement;
  textarea: HTMLTextAreaElement;
  /** Sets the text (an example chosen) and redraws the line numbers. */
  set(text: string): void;
}

/** Replaces the selection as typing would (kept in the undo history where the browser can). */
function insert(ta: HTMLTextAreaElement, text: string, selectStart: number, selectEnd: number): void {
  ta.setSelectionRange(selectStart, selectEnd);
  if (!document.execCommand('insertText', false, text)) {
    ta.setRangeText(text, selectStart, selectEnd, 'end');
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }
}

/** Tab: indent at the caret, or every selected line; Shift+Tab: outdent the lines. */
export function indent(ta: HTMLTextAreaElement, outdent: boolean): void {
  const { selectionStart: a, selectionEnd: b, value } = ta;
  const lineStart = value.lastIndexOf('\n', a - 1) + 1;
  if (!outdent && !value.slice(a, b).includes('\n')) {
    insert(ta, INDENT, a, b);
    return;
  }
  const end = b > a && value[b - 1] === '\n' ? b - 1 : b;
  const lines = value.slice(lineStart, end).split('\n');
  const changed = lines.map((l) => (outdent ? l.replace(/^( {1,2}|\t)/, '') : INDENT + l)).join('\n');
  if (changed === lines.join('\n')) return;
  insert(ta, changed, lineStart, end);
  // A caret stays a caret (moved with its line's indentation); a selection keeps its lines selected.
  if (a === b) {
    const at = Math.max(lineStart, a + changed.length - (end - lineStart));
    ta.setSelectionRange(at, at);
  } else ta.setSelectionRange(lineStart, lineStart + changed.length);
}

export function codeEditor(attrs: Record<string, string>): CodeEditor {
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
  const ta = h('textarea', { ...attrs, class: 'editor', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', wrap: 'off' }) as HTMLTextAreaElement;
  let lines = 0;
  const numbers = () => {
    const n = ta.value.split('\n').length;
    if (n !== lines) {
      lines = n;
      gutter.textContent = Array.from({ length: n }, (_, i) => i + 1).join('\n');
    }
    gutter.scrollTop = ta.scrollTop;
  };
  let escaped = false;
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      escaped = true;
      return;
    }
    if (e.key === 'Tab' && !escaped && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      indent(ta, e.shiftKey);
    }
    escaped = false;
  });
  ta.addEventListener('input', numbers);
  ta.addEventListener('scroll', () => (gutter.scrollTop = ta.scrollTop));
  const root = h('div', { class: 'editor-wrap' }, gutter, ta);
  numbers();
  return {
    root,
    textarea: ta,
    set(text: string) {
      ta.value = text;
      numbers();
    },
  };
}
