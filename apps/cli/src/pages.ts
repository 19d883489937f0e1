import { CommandFailed } from './rpc-errors.js';

/** How many pages a listing follows at most before it asks to be narrowed. */
export const MAX_PAGES = 200;

/**
 * Follows next_page_token to the end, or until `limit` items. `fetch` gets the page token and
 * how many items are still wanted (undefined: all of them). After MAX_PAGES pages the listing
 * fails, asking to narrow it `narrow` (e.g. "with --env or --app").
 */
export async function allPages<T>(
  fetch: (pageToken: string, wanted: number | undefined) => Promise<{ items: T[]; next: string }>,
  narrow: string,
  limit?: number,
): Promise<T[]> {
  const all: T[] = [];
  let pageToken = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const { items, next } = await fetch(pageToken, limit === undefined ? undefined : limit - all.length);
    all.push(...items);
    if (limit !== undefined && all.length >= limit) return all.slice(0, limit);
    if (!next) return all;
    pageToken = next;
  }
  throw new CommandFailed(`more than ${MAX_PAGES} pages: narrow the list ${narrow}`);
}
