'use strict';
// Exits 0 when an AMQP broker at the given URL accepts a login (the URL's credentials), 1 otherwise.
// A bare TCP check would also accept a broker that refuses guest/guest, which the tests could not use.
// Usage: node scripts/amqp-probe.js <amqp-url> [timeout-ms]

const amqp = require('amqplib');

async function probe(url, timeoutMs) {
  const connection = await amqp.connect(url, { timeout: timeoutMs });
  await connection.close();
}

const [url, timeout = '3000'] = process.argv.slice(2);
if (!url) {
  console.error('usage: amqp-probe.js <amqp-url> [timeout-ms]');
  process.exit(2);
}
probe(url, Number(timeout)).then(
  () => process.exit(0),
  (err) => {
    console.error(`amqp-probe: ${err.message}`);
    process.exit(1);
  },
);
