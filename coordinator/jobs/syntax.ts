// Where a job's syntax error is (issue 11): V8 puts the line in the first line
// of a compile error's stack (`file:LINE`) and a caret under the column; the
// user gets "… at line 3, column 7" of their own code, and no stack.

/** `SyntaxError: <message> at line L, column C` of the job's source, or null when `e` is not a located syntax error. */
export function syntaxErrorAt(e: unknown, filename: string, sourceLines: number): { name: string; message: string } | null {
  // Not `instanceof`: the error may come from the job's own context (another realm).
  const err = e as { name?: unknown; message?: unknown; stack?: unknown } | null;
  if (typeof err !== 'object' || err === null || err.name !== 'SyntaxError' || typeof err.stack !== 'string' || !err.stack.startsWith(filename + ':'))
    return null;
  const message = String(err.message);
  const [first, , caret] = err.stack.split('\n');
  const line = Number(first.slice(filename.length + 1));
  if (!Number.isInteger(line)) return null;
  if (line > sourceLines)
    return { name: 'SyntaxError', message: `${message} at the end of the code (line ${sourceLines}): a bracket or a quote is not closed` };
  const col = caret?.indexOf('^') ?? -1;
  return { name: 'SyntaxError', message: `${message} at line ${line}${col >= 0 ? `, column ${col + 1}` : ''}` };
}
