/**
 * How a job run ended: `failed` when BullMQ will try it again, `given-up` when that was its last
 * attempt or it cannot succeed (it stays in the queue's failed set, which keeps only the latest).
 */
export type JobOutcome = 'completed' | 'failed' | 'given-up';

/** Job completions are reported here (metrics hook); set by whoever wants them. */
export type JobObserver = (queue: string, name: string, seconds: number, outcome: JobOutcome) => void;

let observer: JobObserver = () => {};

export function setJobObserver(next: JobObserver): void {
  observer = next;
}

/** Called by the worker runtime after every job. */
export const observeJob: JobObserver = (queue, name, seconds, outcome) =>
  observer(queue, name, seconds, outcome);
