import type { RawBuilder } from 'kysely';
import { sql } from './db/sql';

/** A page of a list, as the API asks for it (API.md "Pagination"). */
export interface PageRequest {
  page: number;
  size: number;
}

export interface PageMeta {
  page: number;
  size: number;
  totalElements: number;
  totalPages: number;
}

export function pageMeta({ page, size }: PageRequest, totalElements: number): PageMeta {
  return { page, size, totalElements, totalPages: Math.ceil(totalElements / size) };
}

export type SortDirection = 'asc' | 'desc';

/** A list's `sort=field,asc|desc`, parsed against the list's whitelist (never raw client text). */
export interface SortRequest<F extends string = string> {
  field: F;
  direction: SortDirection;
}

/**
 * The ORDER BY terms of a sorted list: the field's column from the list's own map, then `id` in the
 * same direction so rows that tie on the field keep one order and pages never overlap or skip. The
 * direction is one of two SQL keywords, never the client's text.
 */
export function orderBySql<F extends string>(
  sort: SortRequest<F>,
  columns: Record<F, string>,
  id = 'id',
): RawBuilder<unknown> {
  const direction = sort.direction === 'asc' ? sql`asc` : sql`desc`;
  return sql`${sql.ref(columns[sort.field])} ${direction}, ${sql.ref(id)} ${direction}`;
}

/** Every list's order when the client gives no `sort`: newest first. */
export const NEWEST_FIRST: SortRequest<'createdAt'> = { field: 'createdAt', direction: 'desc' };
