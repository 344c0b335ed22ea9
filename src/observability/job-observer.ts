/** Job completions are reported here (metrics hook); set by whoever wants them. */
export type JobObserver = (
  queue: string,
  name: string,
  seconds: number,
  outcome: 'completed' | 'failed',
) => void;

let observer: JobObserver = () => {};

export function setJobObserver(next: JobObserver): void {
  observer = next;
}

/** Called by the worker runtime after every job. */
export const observeJob: JobObserver = (queue, name, seconds, outcome) =>
  observer(queue, name, seconds, outcome);
