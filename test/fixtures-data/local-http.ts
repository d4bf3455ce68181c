import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fake API's HTTP server on 127.0.0.1:<ephemeral>: start() sets baseURL (…/v1), close() also drops the sockets a
 * client keeps alive, so a test never waits on them.
 */
export abstract class LocalHttpServer {
  baseURL = '';
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res).catch((err: unknown) => this.handlerFailed(res, err)));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.baseURL = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  /** A bug in the fake's handler: by default it surfaces as the test's unhandled rejection. */
  protected handlerFailed(_res: ServerResponse, err: unknown): void {
    throw err;
  }
}
