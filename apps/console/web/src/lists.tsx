import type { ComponentChildren } from 'preact';
import type { Resource } from './hooks';
import { ErrorAlert, Loading, Notice } from './ui';

/**
 * The state of a list loaded from the API: "Loading…" (by default only until the first answer;
 * `reloading` says it on every load), the load's error, then `children` (further errors and
 * notices about the list), and the `empty` text once an answer came back with no items.
 */
export function ResourceStatus(props: {
  resource: Pick<Resource<unknown>, 'data' | 'error' | 'loading'>;
  count: number;
  empty: string;
  reloading?: boolean;
  children?: ComponentChildren;
}) {
  const { resource } = props;
  return (
    <>
      <Loading when={resource.loading && (props.reloading === true || !resource.data)} />
      <ErrorAlert error={resource.error} />
      {props.children}
      {!!resource.data && props.count === 0 && <p class="muted">{props.empty}</p>}
    </>
  );
}

/**
 * A scrollable table with one column header per entry of `columns`; `actions` adds a last column
 * for row buttons whose header only screen readers read. The rows are the children.
 */
export function DataTable(props: {
  columns: readonly string[];
  actions?: boolean;
  caption?: string;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table data-testid={props.testId}>
        {props.caption && <caption class="visually-hidden">{props.caption}</caption>}
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            {props.actions && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** The actions cell of a row: its one button (named by `label`) where `when` holds, else empty. */
export function RowAction(props: {
  when: boolean;
  label: string;
  busy?: boolean;
  onClick: () => void;
  children: ComponentChildren;
}) {
  return (
    <td>
      {props.when && (
        <button type="button" class="secondary" aria-label={props.label} disabled={props.busy} onClick={props.onClick}>
          {props.children}
        </button>
      )}
    </td>
  );
}

/** Where a paged list stands: the token of the page shown and those of the pages before it. */
export interface PageCursor {
  pageToken: string;
  previous: string[];
}

/** The first page of a paged list. */
export const FIRST_PAGE: PageCursor = { pageToken: '', previous: [] };

/**
 * "Previous page" (when there is one) and "Next page" (when the answer named a next token).
 * `onPage` gets the move to make, to apply to the newest cursor.
 */
function Pager(props: {
  cursor: PageCursor;
  nextToken: string;
  busy: boolean;
  onPage: (move: (cursor: PageCursor) => PageCursor) => void;
}) {
  const { cursor, nextToken } = props;
  return (
    <div class="button-row">
      {cursor.previous.length > 0 && (
        <button
          type="button"
          class="secondary"
          disabled={props.busy}
          onClick={() =>
            props.onPage((current) => ({
              pageToken: current.previous[current.previous.length - 1] ?? '',
              previous: current.previous.slice(0, -1),
            }))
          }
        >
          Previous page
        </button>
      )}
      {nextToken && (
        <button
          type="button"
          disabled={props.busy}
          onClick={() =>
            props.onPage((current) => ({ pageToken: nextToken, previous: [...current.previous, current.pageToken] }))
          }
        >
          Next page
        </button>
      )}
    </div>
  );
}

/**
 * One page of a paged list loaded from the API, as a table: its state (saying "Loading…" on every
 * page change), the table once there are rows, and the pager under it.
 */
export function PagedTable(props: {
  resource: Pick<Resource<{ nextPageToken: string } | undefined>, 'data' | 'error' | 'loading'>;
  count: number;
  empty: string;
  columns: readonly string[];
  testId: string;
  cursor: PageCursor;
  onPage: (move: (cursor: PageCursor) => PageCursor) => void;
  children: ComponentChildren;
}) {
  const { resource } = props;
  return (
    <>
      <ResourceStatus resource={resource} count={props.count} empty={props.empty} reloading />
      {props.count > 0 && (
        <DataTable columns={props.columns} testId={props.testId}>
          {props.children}
        </DataTable>
      )}
      <Pager
        cursor={props.cursor}
        nextToken={resource.data?.nextPageToken ?? ''}
        busy={resource.loading}
        onPage={props.onPage}
      />
    </>
  );
}

/**
 * A loaded list shown as cards (the children): the outcome of the last decision taken on one of
 * them, the list's state, then the cards.
 */
export function CardList(props: {
  resource: Pick<Resource<unknown>, 'data' | 'error' | 'loading'>;
  count: number;
  empty: string;
  outcome?: string;
  testId?: string;
  live?: 'polite';
  children: ComponentChildren;
}) {
  return (
    <>
      {props.outcome && <Notice>{props.outcome}</Notice>}
      <ResourceStatus resource={props.resource} count={props.count} empty={props.empty} />
      <div class="cards" data-testid={props.testId} aria-live={props.live}>
        {props.children}
      </div>
    </>
  );
}
