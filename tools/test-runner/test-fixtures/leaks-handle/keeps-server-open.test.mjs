// Its tests pass, but it leaves a server listening: the process never exits on its own.
import net from 'node:net';
import { test } from 'node:test';

test('opens a server and never closes it', async () => {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
});

test('passes', () => {});
