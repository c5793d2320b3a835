/** Something waiting for an answer, which a failure can reject. */
export interface QueuedJob {
  reject(error: unknown): void;
}

/** How a {@link StreamQueue} handles the jobs of one stream. */
export interface StreamWork<Job extends QueuedJob, Session> {
  /** Jobs taken from the queue at a time. */
  batchSize: number;
  /** Prepares to handle a stream (reads it). If it fails, every job queued for the stream is rejected. */
  open(stream: string): Promise<Session>;
  /** Handles one batch. If it fails, the jobs of that batch are rejected and the next batch runs. */
  handle(stream: string, session: Session, batch: Job[]): Promise<void>;
}

/** Jobs for one stream, queued in this process: handled one batch at a time, never two at once. */
export interface StreamQueue<Job> {
  enqueue(stream: string, job: Job): void;
}

/**
 * Creates the per-stream queue. The first job for an idle stream opens it and starts draining; jobs
 * that arrive meanwhile join the queue and are taken in batches on the same session, so writers in
 * one process never race each other for a stream.
 */
export function createStreamQueue<Job extends QueuedJob, Session>(work: StreamWork<Job, Session>): StreamQueue<Job> {
  const queues = new Map<string, Job[]>();

  async function drain(stream: string, queue: Job[]) {
    try {
      const session = await work.open(stream);
      while (queue.length > 0) {
        const batch = queue.splice(0, work.batchSize);
        await work.handle(stream, session, batch).catch((error: unknown) => batch.forEach((job) => job.reject(error)));
      }
    } catch (error) {
      for (const job of queue) job.reject(error);
    } finally {
      queues.delete(stream);
    }
  }

  return {
    enqueue(stream, job) {
      const queue = queues.get(stream);
      if (queue) {
        queue.push(job);
        return;
      }
      const fresh = [job];
      queues.set(stream, fresh);
      void drain(stream, fresh);
    },
  };
}
