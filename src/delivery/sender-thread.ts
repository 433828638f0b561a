// The script each SenderPool thread runs (see sender-pool.ts): one WebhookSender built from
// the pool's options, answering every request with its AttemptResult.

import { parentPort, workerData } from 'node:worker_threads';
import { DestinationPolicy } from './address-guard';
import { WebhookSender } from './http-sender';
import type { ResultMessage, SendMessage, SenderThreadOptions } from './sender-pool';

const port = parentPort;
if (!port) throw new Error('sender-thread.js runs as a worker thread of a SenderPool');
const { allowlist, allowHttp, ...options } = workerData as SenderThreadOptions;
const sender = new WebhookSender({
  ...options,
  policy: new DestinationPolicy({ allowlist, allowHttp }),
});

port.on('message', (message: SendMessage) => {
  // Only a bug sends anything else: fail loudly (the pool answers this thread's requests as
  // lost and starts another) rather than guess.
  if (typeof message?.id !== 'number' || typeof message.request?.url !== 'string') {
    throw new TypeError('sender thread: a message is not a send request');
  }
  // send() never throws: every failure is an AttemptResult.
  void sender.send(message.request).then((result) => {
    port.postMessage({ id: message.id, result } satisfies ResultMessage);
  });
});
