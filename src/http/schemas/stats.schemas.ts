import { z } from '@hono/zod-openapi';
import { queryInt } from './common';
import { ProductSchema } from './product.schemas';

export const PopularQuery = z.object({
  days: queryInt(1, 30).optional().default(3).openapi({ type: 'integer', example: 3, description: '1…30' }),
  limit: queryInt(1, 50).optional().default(5).openapi({ type: 'integer', example: 5, description: '1…50' }),
});

export const PopularProductSchema = z
  .object({ product: ProductSchema, unitsSold: z.number().int() })
  .openapi('PopularProduct');

/** The widest report: a year and a day (a leap year, inclusive). */
export const MAX_REPORT_DAYS = 366;

const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine((v) => {
    const d = new Date(`${v}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(v);
  }, 'must be a real calendar date');

const dayNumber = (v: string) => Date.parse(`${v}T00:00:00Z`) / 86_400_000;

export const SalesReportQuery = z
  .object({
    from: calendarDate.openapi({ example: '2026-11-01', description: 'first business day, inclusive' }),
    to: calendarDate.openapi({ example: '2026-11-30', description: 'last business day, inclusive' }),
    groupBy: z.enum(['day', 'category']).optional().default('day'),
  })
  .refine((q) => q.from <= q.to, { message: 'from must not be after to', path: ['from'] })
  .refine((q) => q.from > q.to || dayNumber(q.to) - dayNumber(q.from) < MAX_REPORT_DAYS, {
    message: `the range may span at most ${MAX_REPORT_DAYS} days`,
    path: ['to'],
  });

export const SalesRowSchema = z
  .object({
    key: z.string().openapi({ description: 'YYYY-MM-DD or the category' }),
    orders: z.number().int(),
    units: z.number().int(),
    revenue: z.number().int(),
  })
  .openapi('SalesRow');
