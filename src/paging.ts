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
