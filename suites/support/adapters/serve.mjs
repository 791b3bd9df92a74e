// The loop of the deliberately broken test adapters (docs/adapters.md): reads one request per line
// from stdin, answers hello itself and every other op through `handlers[op](request, count)`,
// where count is how many requests were read so far. A handler returns the response's fields
// (`{ result }` or `{ error }`), or undefined to answer nothing.
import { createInterface } from 'node:readline';

export function serve(name, handlers, unsupported = {}) {
  let count = 0;
  const answer = (response) => process.stdout.write(`${JSON.stringify(response)}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    count += 1;
    const request = JSON.parse(line);
    if (request.op === 'hello') {
      answer({ id: request.id, ok: true, result: { name, version: '0', operations: Object.keys(handlers), unsupported } });
      return;
    }
    const response = handlers[request.op]?.(request, count);
    if (response?.result) answer({ id: request.id, ok: true, ...response });
    else if (response?.error) answer({ id: request.id, ok: false, ...response });
  });
}
