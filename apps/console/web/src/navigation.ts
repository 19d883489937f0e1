import { useEffect, useState } from 'preact/hooks';
import type { MeView, Role } from '@gatehouse/console-api';

/** The console's pages, addressed as #/<page>. */
export type PageId = 'sign-in' | 'today' | 'support' | 'officer' | 'audit' | 'access-log';

/** A page in the navigation: its link text and the roles that may open it (undefined: everyone). */
export interface PageEntry {
  id: PageId;
  title: string;
  roles?: readonly Role[];
}

/** The signed-in pages, in navigation order. */
export const NAV_PAGES: readonly PageEntry[] = [
  { id: 'today', title: 'Today' },
  { id: 'support', title: 'Support', roles: ['support', 'developer'] },
  { id: 'officer', title: 'Officer queue', roles: ['security_officer'] },
  { id: 'audit', title: 'Audit', roles: ['security_officer'] },
  { id: 'access-log', title: 'Access log', roles: ['security_officer', 'manager'] },
];

const PAGE_IDS: readonly PageId[] = ['sign-in', 'today', 'support', 'officer', 'audit', 'access-log'];

/**
 * Whether the signed-in employee may open a page: by role, and a register-IP-only session only
 * Today. The BFF enforces the same rules; this only keeps the navigation honest.
 */
export function mayOpen(me: MeView, id: PageId): boolean {
  if (id === 'sign-in') return true;
  const entry = NAV_PAGES.find((page) => page.id === id);
  if (!entry) return false;
  if (me.scope === 'register_ip_only') return id === 'today';
  return !entry.roles || entry.roles.some((role) => me.roles.includes(role));
}

/** The page named by the location hash, or undefined for an empty or unknown hash. */
export function pageFromHash(hash: string): PageId | undefined {
  const name = hash.replace(/^#\/?/, '').split(/[?/]/)[0] ?? '';
  return PAGE_IDS.find((id) => id === name);
}

/** Moves to a page via the hash, so back/forward and reloads keep working. */
export function navigate(id: PageId, replace = false): void {
  const target = `#/${id}`;
  if (location.hash === target) return;
  if (replace) {
    history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target;
  }
}

/** The current page from the hash, re-rendering on every hash change. */
export function useHashPage(): PageId | undefined {
  const [page, setPage] = useState(() => pageFromHash(location.hash));
  useEffect(() => {
    const onChange = () => setPage(pageFromHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return page;
}
