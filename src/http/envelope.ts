import { z } from '@hono/zod-openapi';
import type { JSONValue } from 'hono/utils/types';

export { type PageMeta, type PageRequest, pageMeta } from '../paging';

/** `{ data }` — the success envelope of API.md. */
export const dataEnvelope = <T extends z.ZodType>(schema: T) => z.object({ data: schema });

/** `{ data: [...], meta: { page, size, totalElements, totalPages } }` — a page of a list. */
export const pageEnvelope = <T extends z.ZodType>(schema: T) =>
  z.object({
    data: z.array(schema),
    meta: z.object({
      page: z.number().int(),
      size: z.number().int(),
      totalElements: z.number().int(),
      totalPages: z.number().int(),
    }),
  });

export const errorEnvelope = z
  .object({
    error: z.string().openapi({ example: 'VALIDATION_ERROR' }),
    message: z.string(),
    details: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .openapi('Error');

/** The error envelope's type as a JSON answer carries it (what hono's typed responses compare). */
export interface ErrorEnvelope {
  error: string;
  message: string;
  details?: { [field: string]: JSONValue }[];
}
