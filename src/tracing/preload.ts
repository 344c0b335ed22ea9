// `tsx --import ./src/tracing/preload.ts …` (npm start, npm run worker): when the OTEL_*
// variables ask for traces, the SDK starts here, before anything loads pg or ioredis, so their
// instrumentations can patch them as they load (ESM imports through import-in-the-middle's hook).
// Otherwise nothing is loaded or registered.
import { register } from 'node:module';
import { startTracing, tracingRequested } from './tracing';

if (tracingRequested()) {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  await startTracing();
}
