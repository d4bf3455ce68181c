import { TeacherError } from '../errors.js';
import { BatchJobSchema, type BatchJob, type BatchProvider } from './batch.js';
import type { OpenAIConnection } from './openai.js';

/** Uploads and downloads can be hundreds of MB: give them at least this long, whatever the per-request timeout. */
const TRANSFER_TIMEOUT_MS = 10 * 60_000;
/** Page size for the list calls that look for an upload or a batch a killed run made. */
const PAGE = 100;

/**
 * The OpenAI files and batches endpoints through the official SDK (`client.files`, `client.batches`), with the
 * connection of an OpenAICompatibleAdapter: same server, key, SDK retries off (the batch runner has its own),
 * and the key redacted from every error. Get one from `OpenAICompatibleTeacher.batchProvider()`.
 */
export class OpenAIBatchProvider implements BatchProvider {
  readonly id = 'openai';

  constructor(
    private readonly connection: OpenAIConnection,
    private readonly timeoutMs: number,
  ) {}

  redact(text: string): string {
    return this.connection.redact(text);
  }

  private async call<T>(what: string, run: (client: Awaited<ReturnType<OpenAIConnection['load']>>['client']) => Promise<T>): Promise<T> {
    const { api, client } = await this.connection.load();
    try {
      return await run(client);
    } catch (err) {
      const te = this.connection.toTeacherError(api, err);
      const Same = te.constructor as typeof TeacherError;
      throw new Same(te.kind, `${what}: ${te.message}`, {
        retryable: te.retryable,
        ...(te.status === undefined ? {} : { status: te.status }),
        ...(te.retryAfterMs === undefined ? {} : { retryAfterMs: te.retryAfterMs }),
      });
    }
  }

  private job(raw: unknown, what: string): BatchJob {
    const parsed = BatchJobSchema.safeParse(raw);
    if (parsed.success) {
      // The provider's own messages (validation errors) reach the terminal: no key in them either.
      const data = parsed.data.errors?.data?.map((e) => ({ ...e, ...(e.message ? { message: this.connection.redact(e.message) } : {}) }));
      return data ? { ...parsed.data, errors: { ...parsed.data.errors, data } } : parsed.data;
    }
    const issue = parsed.error.issues[0];
    throw new TeacherError('bad-response', `${what}: unexpected batch object (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'schema mismatch'})`, { retryable: true });
  }

  async uploadRequests(fileName: string, content: Uint8Array, signal?: AbortSignal): Promise<string> {
    const { api } = await this.connection.load();
    const file = await api.toFile(content, fileName, { type: 'application/jsonl' });
    const created = await this.call('upload of the request file', (c) =>
      c.files.create({ file, purpose: 'batch' }, { timeout: Math.max(this.timeoutMs, TRANSFER_TIMEOUT_MS), ...(signal ? { signal } : {}) }),
    );
    return created.id;
  }

  async findUpload(fileName: string, since: number, signal?: AbortSignal): Promise<string | undefined> {
    return this.call('listing batch files', async (c) => {
      // Newest first: stop at the first file older than the upload can be.
      for await (const f of c.files.list({ purpose: 'batch', order: 'desc', limit: PAGE }, signal ? { signal } : {})) {
        if (f.created_at < since) return undefined;
        if (f.filename === fileName) return f.id;
      }
      return undefined;
    });
  }

  async createBatch(inputFileId: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<BatchJob> {
    const raw = await this.call('batch creation', (c) =>
      c.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata }, signal ? { signal } : {}),
    );
    return this.job(raw, 'batch creation');
  }

  async findBatch(inputFileId: string, since: number, signal?: AbortSignal): Promise<BatchJob | undefined> {
    const raw = await this.call('listing batches', async (c) => {
      for await (const b of c.batches.list({ limit: PAGE }, signal ? { signal } : {})) {
        if (b.created_at < since) return undefined;
        if (b.input_file_id === inputFileId) return b;
      }
      return undefined;
    });
    return raw === undefined ? undefined : this.job(raw, 'listing batches');
  }

  async retrieveBatch(batchId: string, signal?: AbortSignal): Promise<BatchJob> {
    return this.job(await this.call(`status of batch ${batchId}`, (c) => c.batches.retrieve(batchId, signal ? { signal } : {})), `status of batch ${batchId}`);
  }

  async cancelBatch(batchId: string, signal?: AbortSignal): Promise<BatchJob> {
    return this.job(await this.call(`cancelling batch ${batchId}`, (c) => c.batches.cancel(batchId, signal ? { signal } : {})), `cancelling batch ${batchId}`);
  }

  async downloadFile(fileId: string, signal?: AbortSignal): Promise<Buffer> {
    return this.call(`download of file ${fileId}`, async (c) => {
      const res = await c.files.content(fileId, { timeout: Math.max(this.timeoutMs, TRANSFER_TIMEOUT_MS), ...(signal ? { signal } : {}) });
      // A connection cut mid-body rejects here (undici: "terminated"), and the runner downloads again.
      return Buffer.from(await res.arrayBuffer());
    });
  }
}
