import { z } from '@hono/zod-openapi';
import type { SortDirection, SortRequest } from '../../paging';

export const MAX_PAGE_SIZE = 100;

/** Query-string integers: digits only, so "1e3", " 5" or "0x10" are refused rather than coerced. */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,10}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const pagingQuery = {
  page: queryInt(0, 1_000_000).optional().default(0).openapi({ type: 'integer', example: 0 }),
  size: queryInt(1, MAX_PAGE_SIZE)
    .optional()
    .default(20)
    .openapi({ type: 'integer', example: 20, description: 'max 100' }),
};

/** `sort=field,asc|desc` restricted to the given fields. */
export const sortQuery = <const F extends string>(fields: readonly F[], extra: readonly string[] = []) =>
  z
    .string()
    .refine(
      (v) => extra.includes(v) || new RegExp(`^(${fields.join('|')}),(asc|desc)$`).test(v),
      `must be one of ${[...fields.map((f) => `${f},asc|desc`), ...extra].join(', ')}`,
    )
    .optional();

/**
 * A paged list's `sort=field,asc|desc` over its whitelisted fields (sortQuery's check), parsed to a
 * typed `{ field, direction }` so list functions pick columns from their own maps and never put client
 * text into SQL. Absent stays undefined: the list keeps its default order (`createdAt,desc`).
 */
export const sortByQuery = <const F extends string>(fields: readonly F[]) => {
  const values = fields.flatMap((f) => [`${f},asc`, `${f},desc`]);
  return sortQuery(fields)
    .openapi({
      type: 'string',
      enum: values,
      example: 'createdAt,desc',
      description: `field,asc|desc over ${fields.join(', ')}; default createdAt,desc; ties broken by id in the same direction`,
    })
    .transform((v): SortRequest<F> | undefined => {
      if (v === undefined) return undefined;
      const [field, direction] = v.split(',') as [F, SortDirection];
      return { field, direction };
    });
};

/**
 * An id the client sends (path, query or body): a UUID in either case, handled in lower case — as
 * PostgreSQL prints it and as Redis keys, caches and maps hold it. A capitalised id would otherwise
 * match rows (uuid comparison ignores case) but miss every string-keyed lookup.
 */
export const idInput = () => z.uuid().toLowerCase();

export const idParam = z.object({ id: idInput().openapi({ param: { name: 'id', in: 'path' } }) });
export const productIdParam = z.object({
  productId: idInput().openapi({ param: { name: 'productId', in: 'path' } }),
});

/** Money in won: a non-negative safe integer, bounded so totals never leave the safe range. */
export const money = (max = 1_000_000_000) => z.number().int().min(0).max(max);

export const isoDate = z.string().openapi({ format: 'date-time' });
