import net from 'node:net';

/**
 * A loopback port nothing listens on right now: for a server the test starts itself, or as an address that
 * refuses connections. Another process could take it before it is used; on loopback in a test run that is rare.
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
