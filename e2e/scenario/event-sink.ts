// A generic webhook receiver on 127.0.0.1: what a chat service's incoming webhook would get from Flux's
// notification-controller (Provider type generic POSTs each event as JSON). It records every event.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An event as notification-controller sends it to a generic provider. */
export interface FluxEvent {
  readonly involvedObject: { readonly kind: string; readonly namespace: string; readonly name: string };
  readonly severity: string;
  readonly reason: string;
  readonly message: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly timestamp?: string;
}

export interface EventSink {
  readonly url: string;
  readonly events: FluxEvent[];
  stop(): Promise<void>;
}

export async function startEventSink(): Promise<EventSink> {
  const events: FluxEvent[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        events.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as FluxEvent);
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end('not JSON');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    events,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
