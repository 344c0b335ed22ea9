/** PostgreSQL refused because a concurrent transaction got in the way; running again can succeed. */
export function isTransientConflict(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === '40001' || code === '40P01';
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string; message?: string } | undefined;
  if (e?.code !== '23505') return false;
  return constraint === undefined || e.constraint === constraint || (e.message ?? '').includes(constraint);
}

/** CREATE of a relation (table, sequence) that another transaction committed meanwhile. */
export function isDuplicateRelation(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === '42P07';
}
