// A node:test reporter that writes one JSON line per event the runner counts with. It runs next
// to the spec reporter (which people read); run.mjs reads these lines to account for every test
// a file declares. Only the fields the accounting needs are kept, so a line never carries a
// test's error message or output.

/** @param {AsyncIterable<{ type: string, data: Record<string, any> }>} source */
export default async function* countReporter(source) {
  for await (const { type, data } of source) {
    if (type === 'test:enqueue' || type === 'test:pass' || type === 'test:fail') {
      yield `${JSON.stringify({
        type,
        file: data.file,
        line: data.line,
        column: data.column,
        nesting: data.nesting,
        name: data.name,
        suite: data.details?.type === 'suite',
        skip: data.skip !== undefined && data.skip !== false,
        todo: data.todo !== undefined && data.todo !== false,
        failureType: data.details?.error?.failureType,
      })}\n`;
    } else if (type === 'test:plan' && data.nesting === 0 && data.file === undefined) {
      // The root test's plan comes last, once every top-level test has reported: the file ran to its end.
      yield `${JSON.stringify({ type: 'root:plan', count: data.count })}\n`;
    }
  }
}
